// A model split over MPI ranks, each rank holding and streaming only its share of the weights:
//  - tensor parallel (Megatron-style): attention by heads (Q/K/V rows of its heads, its share
//    of the KV heads, attn_output's matching columns), the FFN by its hidden units (gate/up rows,
//    down's matching columns); one all-reduce of the partial sums after attn_output and after
//    down. The embedding, the norms and the output are replicated;
//  - pipeline parallel: consecutive layers per rank; the hidden state goes rank to rank, the
//    last rank's logits to every rank.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bwscope/model/llama_model.h"

namespace bwscope::parallel {

enum class SplitKind { None, Tensor, Pipeline };
std::string_view split_name(SplitKind kind);  // "tp", "pp"

// How a tensor-parallel rank holds the output head: the whole head on every rank, or its
// share of the vocabulary's rows, with the ranks' logits gathered after it (the embedding
// stays whole either way: a lookup reads one row per token).
enum class HeadSplit { Replicate, Vocab };
std::string_view head_split_name(HeadSplit h);  // "replicate", "vocab"
// "" is the default, vocab. Throws Error naming `flag` and the accepted values.
HeadSplit parse_head_split(const std::string& flag, const std::string& value);
// --tp-head's value for a split of `kind` (None: no split): as parsed for tensor parallel,
// replicate otherwise; a value given without tensor parallel is refused in one line.
HeadSplit head_split_for(SplitKind kind, const std::string& value);

// Refuses a split the model cannot take, in one line naming the flag and the numbers: tp not
// dividing the query heads, the KV heads or the FFN width, a slice whose columns cut a
// quantization block; pp with more ranks than layers. `ranks` < 2 is refused too.
void check_split(const LlamaConfig& config, SplitKind kind, int ranks, const std::string& path = "");
// The same for the weights' types (block sizes): run once the model is loaded.
void check_split_types(const LlamaModel& model, SplitKind kind, int ranks);
// Both, on a loaded model, and the head split (a vocabulary that does not divide).
void check_split(const LlamaModel& model, SplitKind kind, int ranks, const std::string& path, HeadSplit head = HeadSplit::Replicate);

// Layers [first, last) of rank `rank` of `ranks` in a pipeline: as even as the count allows,
// the earlier ranks taking the remainder.
struct LayerRange {
  int64_t first = 0, last = 0;
};
LayerRange pipeline_layers(int64_t n_layers, int rank, int ranks);

// Rank `rank`'s part of `full` (loaded, in the file's layout): rows are views of the file,
// column slices are copied into `staging`, which must outlive the part until its weights are
// copied (make_weights_private). Norms and rope factors are copied; the config is the part's
// (heads, KV heads, FFN width or layers). With HeadSplit::Vocab the output holds rows
// [rank × V / ranks, (rank + 1) × V / ranks) of the vocabulary (refused when V does not divide).
LlamaModel tensor_part(const LlamaModel& full, int rank, int ranks, std::shared_ptr<std::vector<uint8_t>>& staging,
                       HeadSplit head = HeadSplit::Replicate);
// The stage's layers; the embedding only on the first stage and the output norm and output
// only on the last (the other stages hold empty matrices there).
LlamaModel pipeline_part(const LlamaModel& full, int rank, int ranks);

}  // namespace bwscope::parallel
