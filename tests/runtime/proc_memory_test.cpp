// smaps as the kernel writes it: totals of Rss and Pss (not Pss_Anon or Pss_File), and the
// mappings asked for by name, with their inode.
#include <gtest/gtest.h>

#include <vector>

#include "bwscope/runtime/proc_memory.h"

namespace bwscope {
namespace {

constexpr const char* kSmaps =
    "55d0c0a00000-55d0c0a21000 r--p 00000000 fe:01 1234 /usr/bin/bwscope\n"
    "Size:                132 kB\n"
    "Rss:                 128 kB\n"
    "Pss:                  64 kB\n"
    "Pss_Anon:              0 kB\n"
    "Pss_File:             64 kB\n"
    "7f0000000000-7f0040000000 r--s 00000000 00:01 98765 /memfd:bwscope-weights:model.gguf (deleted)\n"
    "Size:            1048576 kB\n"
    "Rss:             1048576 kB\n"
    "Pss:              524288 kB\n"
    "Pss_Shmem:        524288 kB\n"
    "VmFlags: rd sh mr mw me ms sd\n"
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
    "Rss:                  12 kB\n"
    "Pss:                  12 kB\n";

TEST(ProcMemory, SumsRssAndPssAndPicksTheNamedMappings) {
  const ProcessMemory m = parse_smaps(kSmaps, {"/memfd:bwscope-weights"});
  EXPECT_EQ(m.rss_bytes, (128 + 1048576 + 12) * 1024ull);
  EXPECT_EQ(m.pss_bytes, (64 + 524288 + 12) * 1024ull);
  ASSERT_EQ(m.matched.size(), 1u);
  EXPECT_EQ(m.matched[0].inode, 98765u);
  EXPECT_EQ(m.matched[0].rss_bytes, 1048576 * 1024ull);
  EXPECT_EQ(m.matched[0].pss_bytes, 524288 * 1024ull);
  EXPECT_EQ(m.matched[0].path, "/memfd:bwscope-weights:model.gguf (deleted)");
}

TEST(ProcMemory, NothingAskedForNothingMatched) {
  EXPECT_TRUE(parse_smaps(kSmaps, {}).matched.empty());
  EXPECT_TRUE(parse_smaps("", {"x"}).matched.empty());
}

TEST(ProcMemory, ReadsThisProcess) {
  const auto m = read_process_memory(0);
  ASSERT_TRUE(m.has_value());
  EXPECT_GT(m->rss_bytes, 0u);
  EXPECT_GT(m->pss_bytes, 0u);
  EXPECT_LE(m->pss_bytes, m->rss_bytes);
  EXPECT_FALSE(read_process_memory(-5).has_value());
}

}  // namespace
}  // namespace bwscope
