#include "runtime/kernels/conv2d_direct.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>

#if NNSPEC_KERNEL_LEVEL >= 1
#include <immintrin.h>
#endif

#include "runtime/kernels/gemm_split.h"
#include "runtime/kernels/thread_team.h"

namespace nnspec::rt::NNSPEC_KERNEL_NS {
namespace {

#if NNSPEC_KERNEL_LEVEL == 2
constexpr int64_t kLanes = 16;     // output columns per vector
constexpr int64_t kMaxGroup = 16;  // output channels per pass (accumulators: 32 registers)
#else
constexpr int64_t kLanes = 8;     // output columns per vector
constexpr int64_t kMaxGroup = 8;  // output channels per pass (accumulators: 16 registers)
#endif
constexpr int64_t kColumnsPerStep = 2 * kLanes;  // two vectors of output columns for small groups

int64_t roundUp(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// Scratch layout: the planar tile, dy's row de-interleaved, the kernel gradient's vector
// accumulators; each part starts on a 64-byte boundary.
struct DirectLayout {
  int64_t tile_width;   // columns of one tile row: every column a step may read
  int64_t tile_floats;  // kernel_h * in_c rows
  int64_t grad_width;   // columns of one de-interleaved dy row (zero past out_w)
  int64_t grad_floats;  // out_c rows
  int64_t acc_floats;   // kernel_h * kernel_w * in_c * out_c vectors: one piece's partial sums
                        // (reserved here; the pieces' live in teamScratch(0))

  explicit DirectLayout(const NnspecWindowGeometry& g)
      : tile_width(roundUp(g.out_w, kColumnsPerStep) + g.kernel_w - 1),
        tile_floats(roundUp(g.kernel_h * g.in_c * tile_width, kLanes)),
        grad_width(roundUp(g.out_w, kColumnsPerStep)),
        grad_floats(g.out_c * grad_width),
        acc_floats(g.kernel_h * g.kernel_w * g.in_c * g.out_c * kLanes) {}

  int64_t total() const { return tile_floats + grad_floats + acc_floats; }
};

}  // namespace

int64_t directConvScratchFloats(const NnspecWindowGeometry& geometry) noexcept {
  return DirectLayout(geometry).total();
}

#if NNSPEC_KERNEL_LEVEL >= 1

namespace {

// One vector of output columns: 16 lanes at the avx512 level, 8 at the avx2 level.
#if NNSPEC_KERNEL_LEVEL == 2
using Vec = __m512;
Vec zeroVec() { return _mm512_setzero_ps(); }
Vec loadVec(const float* in) { return _mm512_load_ps(in); }
Vec loadUnaligned(const float* in) { return _mm512_loadu_ps(in); }
void storeVec(float* out, Vec value) { _mm512_store_ps(out, value); }
Vec splat(float value) { return _mm512_set1_ps(value); }
Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
Vec addVec(Vec a, Vec b) { return _mm512_add_ps(a, b); }
float sumLanes(Vec value) { return _mm512_reduce_add_ps(value); }

// out[lane] = in[lane * stride] for the first `count` lanes (1 to kLanes); the others of
// out are left alone.
void gatherLanes(const float* in, int64_t stride, int64_t count, float* out) {
  const __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int32_t>(stride)));
  const __mmask16 mask =
      count >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
  _mm512_mask_storeu_ps(out, mask, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, offsets, in, 4));
}
#else
using Vec = __m256;
Vec zeroVec() { return _mm256_setzero_ps(); }
Vec loadVec(const float* in) { return _mm256_load_ps(in); }
Vec loadUnaligned(const float* in) { return _mm256_loadu_ps(in); }
void storeVec(float* out, Vec value) { _mm256_store_ps(out, value); }
Vec splat(float value) { return _mm256_set1_ps(value); }
Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
Vec addVec(Vec a, Vec b) { return _mm256_add_ps(a, b); }
float sumLanes(Vec value) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(value), _mm256_extractf128_ps(value, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  return _mm_cvtss_f32(_mm_add_ss(sum, _mm_movehdup_ps(sum)));
}

void gatherLanes(const float* in, int64_t stride, int64_t count, float* out) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i offsets = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(static_cast<int32_t>(stride)));
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(count)), lanes);
  _mm256_maskstore_ps(
      out, mask, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), in, offsets, _mm256_castsi256_ps(mask), 4));
}
#endif

// tile[(kernel_row * in_c + channel) * tile_width + column] = x[batch_idx, in_row, column -
// pad_left, channel] for in_row = out_row * stride_h - pad_top + kernel_row; zero outside
// the image (rows and columns).
void buildTile(const NnspecWindowGeometry& g, const float* x, int64_t batch_idx, int64_t out_row,
               const DirectLayout& layout, float* tile) {
  std::fill(tile, tile + layout.tile_floats, 0.0f);
  for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row) {
    int64_t in_row = out_row * g.stride_h - g.pad_top + kernel_row;
    if (in_row < 0 || in_row >= g.in_h) continue;
    const float* image_row = x + (batch_idx * g.in_h + in_row) * g.in_w * g.in_c;
    float* planes = tile + kernel_row * g.in_c * layout.tile_width + g.pad_left;
    if (g.in_c == 1) {
      std::copy(image_row, image_row + g.in_w, planes);
      continue;
    }
    for (int64_t col = 0; col < g.in_w; ++col)
      for (int64_t channel = 0; channel < g.in_c; ++channel)
        planes[channel * layout.tile_width + col] = image_row[col * g.in_c + channel];
  }
}

// grad[channel * grad_width + col] = dy_row[col * out_c + channel]: one gather of a vector
// of columns per channel (columns past out_w stay zero).
void deinterleaveRow(const NnspecWindowGeometry& g, const float* dy_row, const DirectLayout& layout, float* grad) {
  for (int64_t col0 = 0; col0 < g.out_w; col0 += kLanes) {
    const int64_t count = std::min(kLanes, g.out_w - col0);
    const float* block = dy_row + col0 * g.out_c;
    for (int64_t channel = 0; channel < g.out_c; ++channel)
      gatherLanes(block + channel, g.out_c, count, grad + channel * layout.grad_width + col0);
  }
}

// What one output row of one group of output channels needs.
struct RowArgs {
  const NnspecWindowGeometry* g;
  const DirectLayout* layout;
  const float* tile;
  int64_t first_channel;  // the group: output channels [first_channel, first_channel + Group)
  const float* kernel;    // forward
  float* y_row;           // forward: y at (batch_idx, out_row, 0, 0)
  const float* grad;      // kernel gradient: dy's row de-interleaved
  Vec* acc;            // kernel gradient: [tap][in_c][out_c] vectors
};

// Output columns [col0, col0 + 16 * Steps) of Group output channels.
template <int Group, int Steps>
void forwardRow(const RowArgs& args) {
  const NnspecWindowGeometry& g = *args.g;
  const int64_t width = args.layout->tile_width;
  for (int64_t col0 = 0; col0 < g.out_w; col0 += kLanes * Steps) {
    Vec acc[Steps][Group];
    for (int step = 0; step < Steps; ++step)
      for (int channel = 0; channel < Group; ++channel) acc[step][channel] = zeroVec();
    for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
      for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col)
        for (int64_t in_channel = 0; in_channel < g.in_c; ++in_channel) {
          const float* in = args.tile + (kernel_row * g.in_c + in_channel) * width + col0 + kernel_col;
          Vec values[Steps];
          for (int step = 0; step < Steps; ++step) values[step] = loadUnaligned(in + step * kLanes);
          const float* weights = args.kernel +
                                 ((kernel_row * g.kernel_w + kernel_col) * g.in_c + in_channel) * g.out_c +
                                 args.first_channel;
#pragma GCC unroll 16
          for (int channel = 0; channel < Group; ++channel) {
            Vec weight = splat(weights[channel]);
            for (int step = 0; step < Steps; ++step)
              acc[step][channel] = fmadd(values[step], weight, acc[step][channel]);
          }
        }
    alignas(64) float planar[Group][kLanes * Steps];
    for (int channel = 0; channel < Group; ++channel)
      for (int step = 0; step < Steps; ++step) storeVec(&planar[channel][step * kLanes], acc[step][channel]);
    const int64_t columns = std::min(kLanes * Steps, g.out_w - col0);
    float* out = args.y_row + col0 * g.out_c + args.first_channel;
    for (int64_t col = 0; col < columns; ++col)
      for (int channel = 0; channel < Group; ++channel) out[col * g.out_c + channel] = planar[channel][col];
  }
}

// Adds this output row's products to the accumulators of Group output channels.
template <int Group, int Steps>
void kernelGradRow(const RowArgs& args) {
  const NnspecWindowGeometry& g = *args.g;
  const int64_t width = args.layout->tile_width;
  const int64_t grad_width = args.layout->grad_width;
  for (int64_t col0 = 0; col0 < g.out_w; col0 += kLanes * Steps) {
    Vec grads[Steps][Group];
    for (int channel = 0; channel < Group; ++channel)
      for (int step = 0; step < Steps; ++step)
        grads[step][channel] =
            loadVec(args.grad + (args.first_channel + channel) * grad_width + col0 + step * kLanes);
    for (int64_t kernel_row = 0; kernel_row < g.kernel_h; ++kernel_row)
      for (int64_t kernel_col = 0; kernel_col < g.kernel_w; ++kernel_col)
        for (int64_t in_channel = 0; in_channel < g.in_c; ++in_channel) {
          const float* in = args.tile + (kernel_row * g.in_c + in_channel) * width + col0 + kernel_col;
          Vec values[Steps];
          for (int step = 0; step < Steps; ++step) values[step] = loadUnaligned(in + step * kLanes);
          Vec* acc =
              args.acc + ((kernel_row * g.kernel_w + kernel_col) * g.in_c + in_channel) * g.out_c + args.first_channel;
#pragma GCC unroll 16
          for (int channel = 0; channel < Group; ++channel) {
            Vec sum = acc[channel];
            for (int step = 0; step < Steps; ++step) sum = fmadd(values[step], grads[step][channel], sum);
            acc[channel] = sum;
          }
        }
  }
}

using RowFn = void (*)(const RowArgs&);

// Small groups take two vectors of columns per step (more independent accumulators).
template <int Group>
constexpr int kStepsFor = Group <= kMaxGroup / 2 ? 2 : 1;

template <size_t... Index>
constexpr std::array<RowFn, kMaxGroup> forwardTable(std::index_sequence<Index...>) {
  return {&forwardRow<Index + 1, kStepsFor<Index + 1>>...};
}

template <size_t... Index>
constexpr std::array<RowFn, kMaxGroup> kernelGradTable(std::index_sequence<Index...>) {
  return {&kernelGradRow<Index + 1, kStepsFor<Index + 1>>...};
}

constexpr std::array<RowFn, kMaxGroup> kForwardRows = forwardTable(std::make_index_sequence<kMaxGroup>());
constexpr std::array<RowFn, kMaxGroup> kKernelGradRows = kernelGradTable(std::make_index_sequence<kMaxGroup>());

// Calls run(args) for each group of output channels of flat output rows [first_row,
// end_row) (batch_idx * out_h + out_row), args.tile built.
template <class Run>
void forEachRowGroup(const NnspecWindowGeometry& g, const float* x, const DirectLayout& layout, float* tile,
                     RowArgs args, int64_t first_row, int64_t end_row, Run&& run) {
  for (int64_t flat_row = first_row; flat_row < end_row; ++flat_row) {
    const int64_t batch_idx = flat_row / g.out_h;
    const int64_t out_row = flat_row % g.out_h;
    buildTile(g, x, batch_idx, out_row, layout, tile);
    args.tile = tile;
    for (int64_t first = 0; first < g.out_c; first += kMaxGroup) {
      args.first_channel = first;
      run(args, batch_idx, out_row, std::min(kMaxGroup, g.out_c - first));
    }
  }
}

// What a forward call computes, for any range of its rows.
struct ForwardJob {
  const NnspecWindowGeometry* g;
  const DirectLayout* layout;
  const float* x;
  const float* kernel;
  float* y;
  NnspecConvEpilogueFn epilogue;
  const void* context;
};

// The forward of flat output rows [first_row, end_row), `tile` its scratch; each row's
// epilogue runs as soon as the row is complete (still in cache).
void forwardRows(const ForwardJob& job, int64_t first_row, int64_t end_row, float* tile) {
  const NnspecWindowGeometry& g = *job.g;
  RowArgs args{&g, job.layout, nullptr, 0, job.kernel, nullptr, nullptr, nullptr};
  forEachRowGroup(g, job.x, *job.layout, tile, args, first_row, end_row,
                  [&](RowArgs& row, int64_t batch_idx, int64_t out_row, int64_t group) {
                    const int64_t flat_row = batch_idx * g.out_h + out_row;
                    row.y_row = job.y + flat_row * g.out_w * g.out_c;
                    kForwardRows[static_cast<size_t>(group - 1)](row);
                    if (job.epilogue != nullptr && row.first_channel + group == g.out_c)
                      job.epilogue(job.context, flat_row * g.out_w, g.out_w);
                  });
}

// The forward's rows split among the calling thread's team (thread_team.h): pieces of
// whole rows taken in turn, each worker building tiles in scratch of its own. Every row is
// computed as on one thread, so the results do not depend on the thread count.
struct ForwardSplit {
  const ForwardJob* job;
  float* tiles[kMaxTeamThreads];
  int workers;  // those with scratch; a helper beyond them sits out
  int64_t rows;
  int64_t rows_per_piece;
  int64_t pieces;
  std::atomic<int64_t> next{0};
};

void forwardPieces(int worker, void* context) noexcept {
  auto& split = *static_cast<ForwardSplit*>(context);
  if (worker >= split.workers) return;
  for (int64_t piece = split.next.fetch_add(1); piece < split.pieces; piece = split.next.fetch_add(1)) {
    const int64_t first_row = piece * split.rows_per_piece;
    forwardRows(*split.job, first_row, std::min(split.rows, first_row + split.rows_per_piece), split.tiles[worker]);
  }
}

// Pieces per thread of a split forward: a thread the machine runs late leaves its share
// to the others.
constexpr int64_t kForwardPiecesPerThread = 4;

// The kernel gradient's sums over flat output rows [first_row, end_row) into `acc`
// ([tap][in_c][out_c] vectors, zeroed here); `scratch` holds the tile and dy's
// de-interleaved row.
void kernelGradRows(const NnspecWindowGeometry& g, const DirectLayout& layout, const float* x, const float* dy,
                    int64_t first_row, int64_t end_row, float* scratch, Vec* acc) {
  float* grad = scratch + layout.tile_floats;
  std::fill(acc, acc + layout.acc_floats / kLanes, zeroVec());
  std::fill(grad, grad + layout.grad_floats, 0.0f);
  RowArgs args{&g, &layout, nullptr, 0, nullptr, nullptr, grad, acc};
  int64_t last_row = -1;
  forEachRowGroup(g, x, layout, scratch, args, first_row, end_row,
                  [&](RowArgs& row, int64_t batch_idx, int64_t out_row, int64_t group) {
                    const int64_t flat_row = batch_idx * g.out_h + out_row;
                    if (flat_row != last_row) {  // de-interleave dy's row once for all groups
                      deinterleaveRow(g, dy + flat_row * g.out_w * g.out_c, layout, grad);
                      last_row = flat_row;
                    }
                    kKernelGradRows[static_cast<size_t>(group - 1)](row);
                  });
}

// The kernel gradient's rows in a fixed number of pieces, whatever the thread count: each
// piece sums into its own partial, and the partials are added in piece order, so the
// result is the same on any number of threads. The pieces are taken in turn by the
// calling thread's team (thread_team.h), each worker in scratch of its own.
constexpr int64_t kKernelGradPieces = 8;

struct KernelGradSplit {
  const NnspecWindowGeometry* g;
  const DirectLayout* layout;
  const float* x;
  const float* dy;
  float* scratch[kMaxTeamThreads];  // per worker: tile and de-interleaved row
  Vec* partials;                    // per piece: [tap][in_c][out_c] vectors
  int workers;                      // those with scratch; a helper beyond them sits out
  int64_t rows;
  int64_t rows_per_piece;
  int64_t pieces;
  std::atomic<int64_t> next{0};
};

void kernelGradPieces(int worker, void* context) noexcept {
  auto& split = *static_cast<KernelGradSplit*>(context);
  if (worker >= split.workers) return;
  const int64_t acc_vectors = split.layout->acc_floats / kLanes;
  for (int64_t piece = split.next.fetch_add(1); piece < split.pieces; piece = split.next.fetch_add(1)) {
    const int64_t first_row = piece * split.rows_per_piece;
    kernelGradRows(*split.g, *split.layout, split.x, split.dy, first_row,
                   std::min(split.rows, first_row + split.rows_per_piece), split.scratch[worker],
                   split.partials + piece * acc_vectors);
  }
}

}  // namespace

bool directConvApplies(const NnspecWindowGeometry& g) noexcept {
  return g.in_c <= kDirectConvMaxInChannels && g.stride_w == 1 &&
         directConvScratchFloats(g) <= nnspec_rt_conv2d_scratch_floats(&g);
}

void directConv(const NnspecWindowGeometry& g, const float* x, const float* kernel, float* y, float* scratch,
                NnspecConvEpilogueFn epilogue, const void* context) noexcept {
  const DirectLayout layout(g);
  const ForwardJob job{&g, &layout, x, kernel, y, epilogue, context};
  const int64_t rows = g.batch * g.out_h;
  const int threads = teamThreads();
  const int64_t multiply_adds = rows * g.out_w * g.out_c * g.kernel_h * g.kernel_w * g.in_c;
  if (threads <= 1 || rows < 2 || multiply_adds < kMinSplitMultiplyAdds) {
    forwardRows(job, 0, rows, scratch);
    return;
  }
  ForwardSplit split{&job, {scratch}, 1, rows, 0, 0};
  for (int worker = 1; worker < threads; ++worker) {
    split.tiles[worker] = teamScratch(worker, layout.tile_floats);
    if (split.tiles[worker] == nullptr) break;
    split.workers = worker + 1;
  }
  split.rows_per_piece = (rows + kForwardPiecesPerThread * threads - 1) / (kForwardPiecesPerThread * threads);
  split.pieces = (rows + split.rows_per_piece - 1) / split.rows_per_piece;
  runTeam(forwardPieces, &split);
}

bool directConvKernelGrad(const NnspecWindowGeometry& g, const float* x, const float* dy, float* dkernel,
                          float* scratch) noexcept {
  const DirectLayout layout(g);
  const int64_t rows = g.batch * g.out_h;
  KernelGradSplit split{&g, &layout, x, dy, {scratch}, nullptr, 1, rows, 0, 0};
  const int64_t pieces = std::min(rows, kKernelGradPieces);
  split.rows_per_piece = (rows + pieces - 1) / pieces;
  split.pieces = (rows + split.rows_per_piece - 1) / split.rows_per_piece;
  const int64_t acc_vectors = layout.acc_floats / kLanes;
  split.partials = reinterpret_cast<Vec*>(teamScratch(0, split.pieces * layout.acc_floats));
  if (split.partials == nullptr) return false;
  const int threads = teamThreads();
  const int64_t multiply_adds = rows * g.out_w * g.out_c * g.kernel_h * g.kernel_w * g.in_c;
  if (threads > 1 && split.pieces > 1 && multiply_adds >= kMinSplitMultiplyAdds) {
    for (int worker = 1; worker < threads; ++worker) {
      split.scratch[worker] = teamScratch(worker, layout.tile_floats + layout.grad_floats);
      if (split.scratch[worker] == nullptr) break;
      split.workers = worker + 1;
    }
    runTeam(kernelGradPieces, &split);
  } else {
    kernelGradPieces(0, &split);
  }
  // The pieces' sums in piece order, then across lanes: the same for any thread count.
  for (int64_t element = 0; element < acc_vectors; ++element) {
    Vec sum = split.partials[element];
    for (int64_t piece = 1; piece < split.pieces; ++piece) sum = addVec(sum, split.partials[piece * acc_vectors + element]);
    dkernel[element] = sumLanes(sum);
  }
  return true;
}

#else  // the generic level: im2col + GEMM runs every convolution

bool directConvApplies(const NnspecWindowGeometry&) noexcept { return false; }

void directConv(const NnspecWindowGeometry&, const float*, const float*, float*, float*, NnspecConvEpilogueFn,
                const void*) noexcept {}

bool directConvKernelGrad(const NnspecWindowGeometry&, const float*, const float*, float*, float*) noexcept {
  return false;
}

#endif

}  // namespace nnspec::rt::NNSPEC_KERNEL_NS
