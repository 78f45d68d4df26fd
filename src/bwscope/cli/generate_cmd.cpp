// bwscope generate: run the engine on a prompt and print the text (or ids) and tokens/s.
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/chat_loop.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/generate.h"
#include "bwscope/model/chat.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/model/tokenizer.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/parallel/split_run.h"
#include "bwscope/runtime/weight_copy.h"

namespace bwscope::cli {
namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(int32_t(v));
    } catch (const std::exception&) {
      fail("--tokens: '{}' is not a token id (expected a comma-separated list like 1,2,3)", item);
    }
  }
  if (ids.empty()) fail("--tokens: no token ids given");
  return ids;
}

}  // namespace

void add_generate(CLI::App& app) {
  struct Options {
    std::string model, prompt, tokens, dump_logits, kv_type = "f16", isa, system, layout = "auto", tp_head;
    int64_t n_gen = 32, ctx = 0;
    int threads = default_threads(), tp = 0, pp = 0;
    float temperature = 0.0f, top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 1;
    bool json = false, ids = false, no_bos = false, chat = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("generate", "Generate tokens from a prompt and report prefill/decode tokens per second");
  sub->add_option("model", o->model, "GGUF model or Hugging Face checkpoint directory (default: the synthetic Llama 3.2 1B Q8_0, made on first use)");
  sub->add_option("--prompt,-p", o->prompt, "prompt text (needs a tokenizer in the model)");
  sub->add_option("--tokens", o->tokens, "prompt as token ids, e.g. 128000,791,4062 (no BOS added)");
  sub->add_option("-n,--n-gen", o->n_gen, "tokens to generate")->capture_default_str()->check(whole_range(0, 1000000));
  sub->add_option("-t,--threads", o->threads, "threads")->capture_default_str()->check(whole_range(1, 4096));
  sub->add_option("-c,--ctx", o->ctx, "KV cache context in tokens (0: prompt + n)")->check(whole_range(0, 10000000));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--temperature", o->temperature, "0 = greedy")->capture_default_str();
  sub->add_option("--top-k", o->top_k, "keep the k most likely tokens (0 = all)")->capture_default_str();
  sub->add_option("--top-p", o->top_p, "nucleus sampling mass")->capture_default_str();
  sub->add_option("--seed", o->seed, "sampling seed")->capture_default_str();
  sub->add_option("--isa", o->isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_option("--dump-logits", o->dump_logits,
                  "write the logits of every prompt position as raw little-endian float32 [n_prompt × n_vocab]")->check(output_file());
  sub->add_option("--layout", o->layout,
                  "weights: auto (a private copy, interleaved where the kernels prefer it, as bench and compare run) or file (the file mapping)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "file"}));
  sub->add_option("--tp", o->tp, "tensor parallel over N MPI ranks (launches mpirun when not under it)")->check(whole_range(2, 64));
  sub->add_option("--pp", o->pp, "pipeline parallel over N MPI ranks (launches mpirun when not under it)")->check(whole_range(2, 64));
  add_tp_head_option(sub, o->tp_head);
  sub->add_flag("--ids", o->ids, "print token ids instead of text");
  sub->add_flag("--no-bos", o->no_bos, "do not add the BOS token before --prompt text");
  sub->add_flag("--json", o->json, "print one JSON object with the ids, text and timings");
  sub->add_flag("--chat", o->chat, "chat with a Llama 3 instruct model: one user message per stdin line (--prompt: the first)");
  sub->add_option("--system", o->system, "system message; with --prompt and no --chat, one chat turn in the Llama 3 format");
  sub->callback([o] {
    if (!o->prompt.empty() && !o->tokens.empty()) fail("give either --prompt or --tokens, not both");
    if ((o->chat || !o->system.empty()) && !o->tokens.empty()) fail("--chat and --system take text, not --tokens");
    const std::string path = o->model.empty() ? default_model_path() : o->model;
    LlamaModel model = load_llama(path);
    // A split run: checked before mpirun starts, then every rank builds its part.
    const parallel::SplitKind split = o->tp ? parallel::SplitKind::Tensor : o->pp ? parallel::SplitKind::Pipeline : parallel::SplitKind::None;
    const int ranks = o->tp ? o->tp : o->pp;
    if (o->tp && o->pp) fail("give --tp or --pp, not both");
    if (split != parallel::SplitKind::None) {
      if (o->chat) fail("--chat runs in one process; --{} is for generate's one prompt", parallel::split_name(split));
      parallel::check_split(model, split, ranks, path, parallel::head_split_for(split, o->tp_head));
      enter_split_run(parallel::split_name(split), ranks);
    } else {
      parallel::head_split_for(split, o->tp_head);  // refuses --tp-head without --tp
    }
    // Only text needs a tokenizer: a vocabulary bwscope cannot use still runs on --tokens.
    std::string why_not = model.tokenizer_problem;
    std::optional<Tokenizer> tok;
    if (model.tokenizer) tok = try_tokenizer(*model.tokenizer, &why_not);
    auto no_tokenizer = [&](const std::string& what) {
      if (why_not.empty()) fail("{}: the model has no tokenizer, {}", path, what);
      fail("{}: the model's tokenizer cannot be used ({}), {}", path, why_not, what);
    };

    if (o->chat) {
      if (!tok) no_tokenizer("which --chat needs");
      EngineOptions eo;
      eo.threads = o->threads;
      eo.n_ctx = o->ctx > 0 ? o->ctx : std::min<int64_t>(model.config.n_ctx_train, 4096);
      eo.kv_type = parse_type_flag("--kv-type", o->kv_type);
      Engine engine(model, eo);
      Sampler sampler({o->temperature, o->top_k, o->top_p, o->seed});
      run_chat_loop(engine, *tok, sampler, o->system, o->prompt, o->n_gen);
      return;
    }
    std::vector<int32_t> prompt;
    std::vector<int32_t> chat_stop_ids;
    if (!o->system.empty()) {  // one chat turn: system + user, then the assistant header
      if (!tok) no_tokenizer("which --system needs");
      const Llama3ChatFormat format(*tok);
      const std::vector<ChatMessage> dialog{{"system", o->system}, {"user", o->prompt}};
      prompt = format.dialog(dialog, true, !o->no_bos);
      chat_stop_ids = format.stop_ids();
    } else if (!o->tokens.empty()) {
      prompt = parse_ids(o->tokens);
    } else {
      if (!tok) no_tokenizer("so give the prompt as --tokens 1,2,3");
      const std::string text = o->prompt.empty() ? "The quick brown fox jumps over the lazy dog. Memory bandwidth is" : o->prompt;
      prompt = tok->encode(text, !o->no_bos && tok->bos_id() >= 0, false);
      if (prompt.empty()) fail("--prompt: the text encodes to no tokens");
    }

    EngineOptions eo;
    eo.threads = o->threads;
    eo.n_ctx = o->ctx > 0 ? o->ctx : int64_t(prompt.size()) + o->n_gen;
    eo.max_batch = std::min<int64_t>(512, int64_t(prompt.size()));
    eo.kv_type = parse_type_flag("--kv-type", o->kv_type);
    if (!o->isa.empty()) {
      eo.ops = kernels::ops_by_name(o->isa);
      if (!eo.ops) fail("--isa {}: not available on this CPU (scalar, avx2, avx512)", o->isa);
    }
    std::optional<parallel::RankPart> part;
    if (split != parallel::SplitKind::None) {
      part = parallel::join_split(model, split, ranks, eo.ops ? *eo.ops : kernels::best_ops(), o->threads,
                                  parallel::head_split_for(split, o->tp_head));
      eo.split = part->hooks;
    } else if (o->layout == "auto" && (eo.ops ? *eo.ops : kernels::best_ops()).prefers_interleaved(model.layers.at(0).attn_q.type))
      make_weights_private(model, eo.ops ? eo.ops : &kernels::best_ops(), o->threads);  // the kernels' layout, as a split rank's part
    const bool rank0 = !part || part->rank == 0;  // only rank 0 prints and writes
    Engine engine(part ? part->model : model, eo);
    Sampler sampler({o->temperature, o->top_k, o->top_p, o->seed});
    GenerateOptions go;
    go.n_gen = o->n_gen;
    go.keep_prompt_logits = !o->dump_logits.empty();
    if (tok && tok->eos_id() >= 0) go.stop_ids.push_back(tok->eos_id());
    if (tok && tok->eot_id() >= 0) go.stop_ids.push_back(tok->eot_id());
    go.stop_ids.insert(go.stop_ids.end(), chat_stop_ids.begin(), chat_stop_ids.end());

    const bool stream = !o->json && rank0;
    auto show = [&](int32_t id) {
      if (!stream) return;
      if (o->ids || !tok) fmt::print("{} ", id);
      else fmt::print("{}", tok->token_bytes(id));
      std::fflush(stdout);
    };
    GenerateResult r = generate(engine, prompt, go, sampler, show);
    std::string split_summary;
    if (part) {  // each rank's share and its time in MPI, gathered on rank 0
      parallel::World& world = parallel::World::get();
      const parallel::CommStats st = world.total();
      const uint64_t calls = st.calls, bytes = st.bytes_sent + st.bytes_received;
      const int64_t ns = st.ns;
      const std::vector<std::string> lines = world.gather_text(fmt::format(
          "rank {}: weights {:.2f} GB; MPI {} calls, {:.1f} MB, {:.1f} ms ({:.1f} % of the run); clock offset {} ns (± {} ns)",
          part->rank, double(part->weight_bytes) * 1e-9, calls, double(bytes) * 1e-6, double(ns) * 1e-6,
          100.0 * double(ns) * 1e-9 / std::max(1e-9, r.prefill_seconds + r.decode_seconds), part->clock_offset_ns,
          world.round_trip_ns() / 2));
      for (const std::string& line : lines) split_summary += line + "\n";
      if (!rank0) return;
    }
    if (!o->dump_logits.empty())
      write_file_atomic(o->dump_logits, std::string_view(reinterpret_cast<const char*>(r.prompt_logits.data()), r.prompt_logits.size() * sizeof(float)));

    if (o->json) {
      nlohmann::ordered_json j;
      j["model"] = path;
      j["isa"] = engine.ops().isa;
      j["threads"] = o->threads;
      j["prompt_ids"] = prompt;
      j["ids"] = r.tokens;
      if (tok) j["text"] = tok->decode(r.tokens);
      j["prefill"] = {{"tokens", r.n_prompt}, {"seconds", r.prefill_seconds}, {"tokens_per_s", r.prefill_tokens_per_s()}};
      j["decode"] = {{"tokens", r.n_decode_steps}, {"seconds", r.decode_seconds}, {"tokens_per_s", r.decode_tokens_per_s()}};
      if (part) j["split"] = {{"kind", parallel::split_name(split)}, {"ranks", ranks}, {"per_rank", split_summary}};
      // Generated text need not be valid UTF-8 (byte tokens): invalid bytes become U+FFFD.
      fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    fmt::print("\n\nprefill: {} tokens in {:.3f} s ({:.2f} tokens/s)\n", r.n_prompt, r.prefill_seconds, r.prefill_tokens_per_s());
    fmt::print("decode:  {} tokens in {:.3f} s ({:.2f} tokens/s)  [{} threads, {} kernels]\n", r.n_decode_steps,
               r.decode_seconds, r.decode_tokens_per_s(), o->threads, engine.ops().isa);
    if (part) fmt::print("{} {} ranks:\n{}", parallel::split_name(split), ranks, split_summary);
  });
}

}  // namespace bwscope::cli
