// Pieces shared by the fused CPU kernels (fused_lstm.cpp, fused_gru.cpp): the
// squashing functions, the packed matrix-vector product and its packing, and the
// run-time choice of instruction-set path. Every kernel source includes it inside
// its own anonymous namespace; fast_lstm.py hashes it with the sources, so an edit
// here rebuilds the extension.
//
// Included after <ATen/ATen.h>, <cmath>, <cstdlib>, <cstring>, <cstdint>.

#pragma once


#define KERNEL_INLINE inline __attribute__((always_inline))

// ---- squashing functions -------------------------------------------------------
// float: branch-free approximations accurate to ~1 ulp that the compiler can
// vectorise (libm's expf/tanhf are scalar calls). double: libm, used for gradcheck.

KERNEL_INLINE float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // x = n ln2 + r with integer n and |r| <= ln2 / 2; round by adding 1.5 * 2^23
  const float shifter = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  float r = x - n * 0.693145751953125f;  // ln2 split in a short high part ...
  r = r - n * 1.428606820309417e-06f;    // ... and the rest, so n * high is exact
  // Taylor series of e^r to degree 7: truncation error < 3e-9 on |r| <= ln2 / 2
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n built directly in the exponent field; n is the low mantissa bits of shifted
  const int32_t n_int = __builtin_bit_cast(int32_t, shifted) - 0x4B400000;
  return p * __builtin_bit_cast(float, (n_int + 127) << 23);
}

KERNEL_INLINE float sigmoid_(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

KERNEL_INLINE float tanh_(float x) {
  const float ax = __builtin_fabsf(x);
  // large |x|: 1 - 2 / (e^{2|x|} + 1) has no cancellation there
  const float large = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
  // small |x|: x + x^3 q(x^2), q a least-squares fit on [0, 0.625] (rel. error < 1e-7)
  const float u = x * x;
  float q = 0.0021489573817992263f;
  q = q * u - 0.008184633586462979f;
  q = q * u + 0.02170398953235816f;
  q = q * u - 0.05394745228549064f;
  q = q * u + 0.13333212487732832f;
  q = q * u - 0.33333331010049005f;
  const float small = x + x * u * q;
  return ax < 0.625f ? small : __builtin_copysignf(large, x);
}

KERNEL_INLINE double sigmoid_(double x) { return 1.0 / (1.0 + std::exp(-x)); }
KERNEL_INLINE double tanh_(double x) { return std::tanh(x); }

// Matrix-vector products use the matrix packed in panels of panel_rows<T> output
// rows, each panel stored input-major: panel[p][k][l] = A[p * rows + l][k]. The
// last panel holds only the remaining rows, rounded up to whole 64-byte vectors
// (zeros past the end). A panel is then one sequential stream, and its running
// sums stay in registers for the whole pass (no horizontal sums in the inner
// loop): 4 zmm on AVX-512, 8 ymm on AVX2, 16 xmm on baseline x86-64 and other
// architectures. Each path is compiled with its own native vector width (kNative
// bytes): GCC vectors wider than the target's registers are lowered through
// memory, which made the AVX2 path slower than baseline. The matrix is read once
// per step at cache bandwidth; that memory traffic is what a step costs at large H.
constexpr int64_t kVectorBytes = 64;
constexpr int64_t kVectorsPerPanel = 4;
template <typename T>
constexpr int64_t vector_lanes = kVectorBytes / sizeof(T);
template <typename T>
constexpr int64_t panel_rows = kVectorsPerPanel * vector_lanes<T>;

constexpr int64_t kPrefetchRows = 8;  // how far ahead in a panel to prefetch
constexpr int64_t kCacheLine = 64;

template <typename T, int kNative>
struct Native {
  typedef T type __attribute__((vector_size(kNative)));
};

template <typename V, typename T>
KERNEL_INLINE V load_native(const T* from) {
  V v;
  __builtin_memcpy(&v, from, sizeof(v));
  return v;
}

// out[0:rows] += panel x for one panel of kVectors 64-byte vectors' width (rows <= that
// width), with kNative-byte registers.
template <int kVectors, int kNative, typename T>
KERNEL_INLINE void panel_matvec(T* __restrict__ out, const T* __restrict__ x,
                                const T* __restrict__ panel, int64_t n_in, int64_t rows) {
  using V = typename Native<T, kNative>::type;
  constexpr int64_t kLanes = kNative / sizeof(T);
  constexpr int kParts = kVectors * (kVectorBytes / kNative);
  constexpr int64_t kWidth = kParts * kLanes;
  constexpr int kLines = kWidth * sizeof(T) / kCacheLine;
  V s[kParts];
#pragma GCC unroll 16
  for (int j = 0; j < kParts; ++j) s[j] = V{};
  const T* __restrict__ q = panel;
  for (int64_t k = 0; k < n_in; ++k, q += kWidth) {
    // the hardware prefetcher alone leaves ~15% of the bandwidth unused here
#pragma GCC unroll 4
    for (int line = 0; line < kLines; ++line)
      __builtin_prefetch(q + kPrefetchRows * kWidth + line * (kCacheLine / sizeof(T)), 0, 3);
    const T x_k = x[k];
#pragma GCC unroll 16
    for (int j = 0; j < kParts; ++j) s[j] += load_native<V>(q + j * kLanes) * x_k;
  }
  T sums[kWidth];
#pragma GCC unroll 16
  for (int j = 0; j < kParts; ++j) __builtin_memcpy(sums + j * kLanes, &s[j], sizeof(V));
  for (int64_t l = 0; l < rows; ++l) out[l] += sums[l];
}

// For every sequence b: out_b[0:n_out] += A x_b, where out_b = out + b * out_stride,
// x_b = x + b * x_stride (n_in long) and A (n_out x n_in) is packed as above.
template <int kNative, typename T>
KERNEL_INLINE void accumulate_matvec(T* __restrict__ out, int64_t out_stride, const T* __restrict__ x,
                                     int64_t x_stride, const T* __restrict__ packed, int64_t n_in,
                                     int64_t n_out, int64_t batch) {
  constexpr int64_t kRows = panel_rows<T>;
  constexpr int64_t kLanes = vector_lanes<T>;
  const int64_t full = n_out / kRows;
  for (int64_t p = 0; p < full; ++p) {
    const T* panel = packed + p * n_in * kRows;
    for (int64_t b = 0; b < batch; ++b)
      panel_matvec<4, kNative>(out + b * out_stride + p * kRows, x + b * x_stride, panel, n_in,
                               kRows);
  }
  const int64_t tail = n_out - full * kRows;
  if (tail == 0) return;
  const T* panel = packed + full * n_in * kRows;
  const int64_t vectors = (tail + kLanes - 1) / kLanes;
  for (int64_t b = 0; b < batch; ++b) {
    T* out_b = out + b * out_stride + full * kRows;
    const T* x_b = x + b * x_stride;
    switch (vectors) {
      case 1: panel_matvec<1, kNative>(out_b, x_b, panel, n_in, tail); break;
      case 2: panel_matvec<2, kNative>(out_b, x_b, panel, n_in, tail); break;
      case 3: panel_matvec<3, kNative>(out_b, x_b, panel, n_in, tail); break;
      default: panel_matvec<4, kNative>(out_b, x_b, panel, n_in, tail); break;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define KERNEL_AVX2 1
#define KERNEL_TARGET_AVX2 target("avx2,fma")
#define KERNEL_TARGET_AVX512 target("avx512f,avx512vl,avx2,fma")
enum class Isa { kBase, kAvx2, kAvx512 };
// The best path this CPU supports ...
Isa supported_isa() {
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return Isa::kBase;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return Isa::kAvx512;
    return Isa::kAvx2;
  }();
  return isa;
}
// ... capped by $LSTM_ODYSSEY_KERNEL_ISA (baseline, avx2, avx512), read on every call, so
// tests and benchmarks run every lower path on one machine (fast_lstm.py checks the value).
Isa cpu_isa() {
  Isa isa = supported_isa();
  const char* cap = std::getenv("LSTM_ODYSSEY_KERNEL_ISA");
  if (cap == nullptr) return isa;
  if (std::strcmp(cap, "baseline") == 0) return Isa::kBase;
  if (std::strcmp(cap, "avx2") == 0 && isa == Isa::kAvx512) return Isa::kAvx2;
  return isa;
}
#endif

// A (n_out x n_in) -> the panels accumulate_matvec reads: full panels
// (n_out / rows, n_in, rows), then the remaining rows as (n_in, tail rounded up to
// whole vectors), flattened one after the other.
at::Tensor pack_panels(const at::Tensor& matrix) {
  const bool is_float = matrix.scalar_type() == at::kFloat;
  const int64_t rows = is_float ? panel_rows<float> : panel_rows<double>;
  const int64_t lanes = is_float ? vector_lanes<float> : vector_lanes<double>;
  const int64_t n_out = matrix.size(0), n_in = matrix.size(1);
  const int64_t full = n_out / rows;
  const int64_t tail = ((n_out - full * rows + lanes - 1) / lanes) * lanes;
  at::Tensor padded = at::zeros({full * rows + tail, n_in}, matrix.options());
  padded.narrow(0, 0, n_out).copy_(matrix);
  at::Tensor packed = at::empty({(full * rows + tail) * n_in}, matrix.options());
  packed.narrow(0, 0, full * rows * n_in)
      .view({full, n_in, rows})
      .copy_(padded.narrow(0, 0, full * rows).view({full, rows, n_in}).transpose(1, 2));
  if (tail > 0)
    packed.narrow(0, full * rows * n_in, tail * n_in)
        .view({n_in, tail})
        .copy_(padded.narrow(0, full * rows, tail).t());
  return packed;
}
