// Fused CPU time loop for the nine LSTM variants of Greff et al. (2017).
//
// Companion of lstm_odyssey/models/fast_lstm.py and tested against the reference
// step in variants.py (same equations, same parameter layout). The point is to
// take Python and ATen dispatch out of the per-step loop: at batch size 1 every
// step is one matrix-vector product plus a few element-wise operations, which
// costs a few microseconds, while a dispatched op costs about as much on its own.
//
// Forward:  acts[t] = xproj[t] + R y[t-1] (+ R_gates [i,f,o][t-1] for FGR), then
//           the gate activations, cell, and output in place, saving what the
//           backward pass needs (activations, c, h(c), y).
// Backward: walks back in time computing d(pre-activation) for every block and
//           one R^T delta (and R_gates^T delta) per step. The weight gradients are
//           big GEMMs over all steps, done in Python from the returned deltas.
//
// The loops are plain C++ on raw pointers so the compiler can vectorise them; the
// hot functions are compiled twice (AVX2+FMA and baseline x86-64) and picked at
// load time, so the build stays portable without -march=native.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

namespace {

// Bit flags describing a variant; must match _variant_flags in fast_lstm.py.
constexpr int64_t kInputGate = 1;
constexpr int64_t kForgetGate = 2;
constexpr int64_t kOutputGate = 4;
constexpr int64_t kCoupled = 8;        // CIFG: f = 1 - i
constexpr int64_t kBlockTanh = 16;     // g = tanh (else identity)
constexpr int64_t kOutputTanh = 32;    // h = tanh (else identity)
constexpr int64_t kPeepholes = 64;
constexpr int64_t kGateRecurrence = 128;  // FGR

#define KERNEL_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KERNEL_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define KERNEL_CLONES
#endif

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

// ---- the layer, as raw pointers ------------------------------------------------

template <typename T>
struct Layer {
  int64_t steps, batch, hidden, width;  // width = G * hidden (all blocks)
  int64_t flags;
  int64_t off_i, off_f, off_o;          // block offsets in a width-long row, -1 if absent
  const T* R;                           // width x hidden
  const T* RT;                          // hidden x width (R transposed)
  const T* Rg;                          // 3H x 3H, FGR only
  const T* RgT;                         // its transpose
  const T* p_i;                         // peephole rows, nullptr if absent
  const T* p_f;
  const T* p_o;
};

// dst[0:n] += sum_m coeff[m] * rows[m * n : (m + 1) * n]: a matrix-vector
// product in axpy form (vectorises without reassociating sums), four rows at once
// to cut the loads and stores of dst.
template <typename T>
KERNEL_INLINE void accumulate_rows(T* __restrict__ dst, const T* __restrict__ coeff,
                                   const T* __restrict__ rows, int64_t m_rows, int64_t n) {
  int64_t m = 0;
  for (; m + 4 <= m_rows; m += 4) {
    const T c0 = coeff[m], c1 = coeff[m + 1], c2 = coeff[m + 2], c3 = coeff[m + 3];
    const T* __restrict__ r0 = rows + m * n;
    const T* __restrict__ r1 = r0 + n;
    const T* __restrict__ r2 = r1 + n;
    const T* __restrict__ r3 = r2 + n;
    for (int64_t j = 0; j < n; ++j) dst[j] += c0 * r0[j] + c1 * r1[j] + c2 * r2[j] + c3 * r3[j];
  }
  for (; m < m_rows; ++m) {
    const T c0 = coeff[m];
    const T* __restrict__ r0 = rows + m * n;
    for (int64_t j = 0; j < n; ++j) dst[j] += c0 * r0[j];
  }
}

// One step of eq. (1) for one sequence. `a` holds the pre-activations of every
// block on entry and their activations on exit.
template <typename T>
KERNEL_INLINE void cell_forward(const Layer<T>& L, T* __restrict__ a, const T* __restrict__ c_prev,
                                T* __restrict__ c, T* __restrict__ hc, T* __restrict__ y) {
  const int64_t H = L.hidden;
  const int64_t F = L.flags;
  T* __restrict__ z = a;
  if (F & kBlockTanh)
    for (int64_t j = 0; j < H; ++j) z[j] = tanh_(z[j]);

  T* __restrict__ i = (F & kInputGate) ? a + L.off_i : nullptr;
  if (i && L.p_i) {
    for (int64_t j = 0; j < H; ++j) i[j] = sigmoid_(i[j] + L.p_i[j] * c_prev[j]);
  } else if (i) {
    for (int64_t j = 0; j < H; ++j) i[j] = sigmoid_(i[j]);
  }
  T* __restrict__ f = (F & kForgetGate) ? a + L.off_f : nullptr;
  if (f && L.p_f) {
    for (int64_t j = 0; j < H; ++j) f[j] = sigmoid_(f[j] + L.p_f[j] * c_prev[j]);
  } else if (f) {
    for (int64_t j = 0; j < H; ++j) f[j] = sigmoid_(f[j]);
  }

  if (i && f) {
    for (int64_t j = 0; j < H; ++j) c[j] = z[j] * i[j] + c_prev[j] * f[j];
  } else if (i && (F & kCoupled)) {
    for (int64_t j = 0; j < H; ++j) c[j] = z[j] * i[j] + c_prev[j] * (T(1) - i[j]);
  } else if (i) {
    for (int64_t j = 0; j < H; ++j) c[j] = z[j] * i[j] + c_prev[j];
  } else if (f) {
    for (int64_t j = 0; j < H; ++j) c[j] = z[j] + c_prev[j] * f[j];
  } else {
    for (int64_t j = 0; j < H; ++j) c[j] = z[j] + c_prev[j];
  }

  T* __restrict__ o = (F & kOutputGate) ? a + L.off_o : nullptr;
  if (o && L.p_o) {
    for (int64_t j = 0; j < H; ++j) o[j] = sigmoid_(o[j] + L.p_o[j] * c[j]);
  } else if (o) {
    for (int64_t j = 0; j < H; ++j) o[j] = sigmoid_(o[j]);
  }
  if (F & kOutputTanh) {
    for (int64_t j = 0; j < H; ++j) hc[j] = tanh_(c[j]);
  } else {
    for (int64_t j = 0; j < H; ++j) hc[j] = c[j];
  }
  if (o) {
    for (int64_t j = 0; j < H; ++j) y[j] = hc[j] * o[j];
  } else {
    for (int64_t j = 0; j < H; ++j) y[j] = hc[j];
  }
}

template <typename T>
KERNEL_INLINE void forward_loop(const Layer<T>& L, const T* __restrict__ xproj, T* __restrict__ acts,
                                T* __restrict__ cell, T* __restrict__ hcell, T* __restrict__ out,
                                const T* __restrict__ zeros) {
  const int64_t B = L.batch, H = L.hidden, W = L.width;
  const bool recurrent_gates = L.flags & kGateRecurrence;
  for (int64_t t = 0; t < L.steps; ++t) {
    T* a_t = acts + t * B * W;
    const T* x_t = xproj + t * B * W;
    for (int64_t k = 0; k < B * W; ++k) a_t[k] = x_t[k];
    if (t > 0) {
      const T* y_prev = out + (t - 1) * B * H;
      for (int64_t b = 0; b < B; ++b) accumulate_rows(a_t + b * W, y_prev + b * H, L.RT, H, W);
      if (recurrent_gates) {  // previous [i, f, o] are the last 3H entries of a row
        const T* a_prev = acts + (t - 1) * B * W;
        for (int64_t b = 0; b < B; ++b)
          accumulate_rows(a_t + b * W + H, a_prev + b * W + H, L.RgT, 3 * H, 3 * H);
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      const T* c_prev = t > 0 ? cell + ((t - 1) * B + b) * H : zeros;
      const int64_t row = (t * B + b) * H;
      cell_forward(L, a_t + b * W, c_prev, cell + row, hcell + row, out + row);
    }
  }
}

// Derivatives of one step for one sequence. In: dy (total dL/dy_t), dc (dL/dc_t from
// step t+1, overwritten with dL/dc_{t-1}), dgates (dL/d[i,f,o]_t from step t+1 through
// R_gates, FGR only). Out: d, dL/d(pre-activation) of every block.
template <typename T>
KERNEL_INLINE void cell_backward(const Layer<T>& L, const T* __restrict__ a, const T* __restrict__ c_prev,
                                 const T* __restrict__ hc, const T* __restrict__ dy,
                                 T* __restrict__ dc_carry, const T* __restrict__ dgates,
                                 T* __restrict__ dc, T* __restrict__ d) {
  const int64_t H = L.hidden;
  const int64_t F = L.flags;
  const T* __restrict__ z = a;
  const T* __restrict__ i = (F & kInputGate) ? a + L.off_i : nullptr;
  const T* __restrict__ f = (F & kForgetGate) ? a + L.off_f : nullptr;
  const T* __restrict__ o = (F & kOutputGate) ? a + L.off_o : nullptr;
  T* __restrict__ d_z = d;
  T* __restrict__ d_i = i ? d + L.off_i : nullptr;
  T* __restrict__ d_f = f ? d + L.off_f : nullptr;
  T* __restrict__ d_o = o ? d + L.off_o : nullptr;
  // with gate recurrence, all three gates exist and dgates is [d_i, d_f, d_o]
  const T* __restrict__ dg_i = dgates;
  const T* __restrict__ dg_f = dgates ? dgates + H : nullptr;
  const T* __restrict__ dg_o = dgates ? dgates + 2 * H : nullptr;

  // output gate and dL/dc_t
  if (o) {
    if (dg_o) {
      for (int64_t j = 0; j < H; ++j) d_o[j] = (dy[j] * hc[j] + dg_o[j]) * o[j] * (T(1) - o[j]);
    } else {
      for (int64_t j = 0; j < H; ++j) d_o[j] = dy[j] * hc[j] * o[j] * (T(1) - o[j]);
    }
    for (int64_t j = 0; j < H; ++j) dc[j] = dy[j] * o[j];
  } else {
    for (int64_t j = 0; j < H; ++j) dc[j] = dy[j];
  }
  if (F & kOutputTanh) {
    for (int64_t j = 0; j < H; ++j) dc[j] = dc_carry[j] + dc[j] * (T(1) - hc[j] * hc[j]);
  } else {
    for (int64_t j = 0; j < H; ++j) dc[j] = dc_carry[j] + dc[j];
  }
  if (o && L.p_o)
    for (int64_t j = 0; j < H; ++j) dc[j] += d_o[j] * L.p_o[j];

  // input and forget gates (CIFG: f = 1 - i, so i also gets -dc * c')
  if (i) {
    if (F & kCoupled) {
      for (int64_t j = 0; j < H; ++j) d_i[j] = dc[j] * (z[j] - c_prev[j]);
    } else {
      for (int64_t j = 0; j < H; ++j) d_i[j] = dc[j] * z[j];
    }
    if (dg_i)
      for (int64_t j = 0; j < H; ++j) d_i[j] += dg_i[j];
    for (int64_t j = 0; j < H; ++j) d_i[j] *= i[j] * (T(1) - i[j]);
  }
  if (f) {
    if (dg_f) {
      for (int64_t j = 0; j < H; ++j) d_f[j] = (dc[j] * c_prev[j] + dg_f[j]) * f[j] * (T(1) - f[j]);
    } else {
      for (int64_t j = 0; j < H; ++j) d_f[j] = dc[j] * c_prev[j] * f[j] * (T(1) - f[j]);
    }
  }

  // block input
  if (i) {
    for (int64_t j = 0; j < H; ++j) d_z[j] = dc[j] * i[j];
  } else {
    for (int64_t j = 0; j < H; ++j) d_z[j] = dc[j];
  }
  if (F & kBlockTanh)
    for (int64_t j = 0; j < H; ++j) d_z[j] *= T(1) - z[j] * z[j];

  // dL/dc_{t-1}: through f and through the input/forget peepholes
  if (f) {
    for (int64_t j = 0; j < H; ++j) dc_carry[j] = dc[j] * f[j];
  } else if (i && (F & kCoupled)) {
    for (int64_t j = 0; j < H; ++j) dc_carry[j] = dc[j] * (T(1) - i[j]);
  } else {
    for (int64_t j = 0; j < H; ++j) dc_carry[j] = dc[j];
  }
  if (i && L.p_i)
    for (int64_t j = 0; j < H; ++j) dc_carry[j] += d_i[j] * L.p_i[j];
  if (f && L.p_f)
    for (int64_t j = 0; j < H; ++j) dc_carry[j] += d_f[j] * L.p_f[j];
}

// Buffers (all zero on entry): dy_carry (B, H), dc_carry (B, H), dgates_carry (B, 3H)
// for FGR; scratch (2 * H).
template <typename T>
KERNEL_INLINE void backward_loop(const Layer<T>& L, const T* __restrict__ grad_y,
                                 const T* __restrict__ acts, const T* __restrict__ cell,
                                 const T* __restrict__ hcell, T* __restrict__ dpre,
                                 T* __restrict__ dy_carry, T* __restrict__ dc_carry,
                                 T* __restrict__ dgates_carry, T* __restrict__ scratch,
                                 const T* __restrict__ zeros) {
  const int64_t B = L.batch, H = L.hidden, W = L.width;
  const bool recurrent_gates = L.flags & kGateRecurrence;
  T* dy = scratch;
  T* dc = scratch + H;
  for (int64_t t = L.steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = (t * B + b) * H;
      for (int64_t j = 0; j < H; ++j) dy[j] = grad_y[row + j] + dy_carry[b * H + j];
      const T* c_prev = t > 0 ? cell + row - B * H : zeros;
      cell_backward(L, acts + (t * B + b) * W, c_prev, hcell + row, dy, dc_carry + b * H,
                    recurrent_gates ? dgates_carry + b * 3 * H : nullptr, dc,
                    dpre + (t * B + b) * W);
    }
    if (t == 0) break;  // nothing flows into the zero initial state
    const T* d_t = dpre + t * B * W;
    for (int64_t k = 0; k < B * H; ++k) dy_carry[k] = T(0);
    for (int64_t b = 0; b < B; ++b) accumulate_rows(dy_carry + b * H, d_t + b * W, L.R, W, H);
    if (recurrent_gates) {
      for (int64_t k = 0; k < B * 3 * H; ++k) dgates_carry[k] = T(0);
      for (int64_t b = 0; b < B; ++b)
        accumulate_rows(dgates_carry + b * 3 * H, d_t + b * W + H, L.Rg, 3 * H, 3 * H);
    }
  }
}

// Out-of-line entry points, one pair per dtype, each compiled for AVX2+FMA and for
// baseline x86-64 (the loader picks one per machine).
KERNEL_CLONES void forward_float(const Layer<float>& L, const float* xproj, float* acts, float* cell,
                                 float* hcell, float* out, const float* zeros) {
  forward_loop(L, xproj, acts, cell, hcell, out, zeros);
}
KERNEL_CLONES void forward_double(const Layer<double>& L, const double* xproj, double* acts,
                                  double* cell, double* hcell, double* out, const double* zeros) {
  forward_loop(L, xproj, acts, cell, hcell, out, zeros);
}
KERNEL_CLONES void backward_float(const Layer<float>& L, const float* grad_y, const float* acts,
                                  const float* cell, const float* hcell, float* dpre, float* dy_carry,
                                  float* dc_carry, float* dgates_carry, float* scratch,
                                  const float* zeros) {
  backward_loop(L, grad_y, acts, cell, hcell, dpre, dy_carry, dc_carry, dgates_carry, scratch, zeros);
}
KERNEL_CLONES void backward_double(const Layer<double>& L, const double* grad_y, const double* acts,
                                   const double* cell, const double* hcell, double* dpre,
                                   double* dy_carry, double* dc_carry, double* dgates_carry,
                                   double* scratch, const double* zeros) {
  backward_loop(L, grad_y, acts, cell, hcell, dpre, dy_carry, dc_carry, dgates_carry, scratch, zeros);
}

void forward_dispatch(const Layer<float>& L, const at::Tensor& xproj, at::Tensor& acts, at::Tensor& cell,
                      at::Tensor& hcell, at::Tensor& out, const at::Tensor& zeros) {
  forward_float(L, xproj.data_ptr<float>(), acts.data_ptr<float>(), cell.data_ptr<float>(),
                hcell.data_ptr<float>(), out.data_ptr<float>(), zeros.data_ptr<float>());
}
void forward_dispatch(const Layer<double>& L, const at::Tensor& xproj, at::Tensor& acts,
                      at::Tensor& cell, at::Tensor& hcell, at::Tensor& out, const at::Tensor& zeros) {
  forward_double(L, xproj.data_ptr<double>(), acts.data_ptr<double>(), cell.data_ptr<double>(),
                 hcell.data_ptr<double>(), out.data_ptr<double>(), zeros.data_ptr<double>());
}

// ---- ATen glue -----------------------------------------------------------------

void check_tensor(const at::Tensor& tensor, const char* name, const at::Tensor& like) {
  TORCH_CHECK(tensor.device().is_cpu(), "fused LSTM: ", name, " must be on the CPU");
  TORCH_CHECK(tensor.scalar_type() == like.scalar_type(), "fused LSTM: ", name, " has dtype ",
              tensor.scalar_type(), ", expected ", like.scalar_type());
}

template <typename T>
Layer<T> make_layer(const at::Tensor& R, const at::Tensor& RT, const std::optional<at::Tensor>& peepholes,
                    const at::Tensor& Rg, const at::Tensor& RgT, int64_t flags, int64_t steps,
                    int64_t batch) {
  Layer<T> L{};
  L.steps = steps;
  L.batch = batch;
  L.hidden = R.size(1);
  L.width = R.size(0);
  L.flags = flags;
  // blocks are z, then the present gates in the order i, f, o
  int64_t block = 1;
  L.off_i = (flags & kInputGate) ? L.hidden * block++ : -1;
  L.off_f = (flags & kForgetGate) ? L.hidden * block++ : -1;
  L.off_o = (flags & kOutputGate) ? L.hidden * block++ : -1;
  TORCH_CHECK(block * L.hidden == L.width, "fused LSTM: R has ", L.width, " rows, expected ",
              block * L.hidden, " for the variant's blocks");
  L.R = R.data_ptr<T>();
  L.RT = RT.data_ptr<T>();
  if (flags & kGateRecurrence) {
    TORCH_CHECK(block == 4, "fused LSTM: gate recurrence needs all three gates");
    L.Rg = Rg.data_ptr<T>();
    L.RgT = RgT.data_ptr<T>();
  }
  L.p_i = L.p_f = L.p_o = nullptr;
  if ((flags & kPeepholes) && peepholes.has_value()) {
    // one row per present gate, in the order i, f, o
    const T* p = peepholes->data_ptr<T>();
    int64_t row = 0;
    if (flags & kInputGate) L.p_i = p + L.hidden * row++;
    if (flags & kForgetGate) L.p_f = p + L.hidden * row++;
    if (flags & kOutputGate) L.p_o = p + L.hidden * row++;
    TORCH_CHECK(peepholes->size(0) == row, "fused LSTM: expected ", row, " peephole rows");
  }
  return L;
}

struct Prepared {
  at::Tensor R, RT, peepholes, Rg, RgT;
};

Prepared prepare(const at::Tensor& like, const at::Tensor& R, const std::optional<at::Tensor>& peepholes,
                 const std::optional<at::Tensor>& R_gates, int64_t flags) {
  check_tensor(R, "R", like);
  Prepared prepared;
  prepared.R = R.contiguous();
  prepared.RT = R.t().contiguous();
  if (flags & kGateRecurrence) {
    TORCH_CHECK(R_gates.has_value(), "fused LSTM: gate recurrence needs R_gates");
    check_tensor(*R_gates, "R_gates", like);
    prepared.Rg = R_gates->contiguous();
    prepared.RgT = R_gates->t().contiguous();
  }
  if ((flags & kPeepholes) && peepholes.has_value()) {
    check_tensor(*peepholes, "p", like);
    prepared.peepholes = peepholes->contiguous();
  }
  return prepared;
}

std::optional<at::Tensor> optional_of(const at::Tensor& tensor) {
  if (tensor.defined()) return tensor;
  return std::nullopt;
}

// projection: (T, B, G*H) = W x + b. Returns [y, c, h(c), activations].
std::vector<at::Tensor> fused_forward(const at::Tensor& projection, const at::Tensor& R,
                                     const std::optional<at::Tensor>& peepholes,
                                     const std::optional<at::Tensor>& R_gates, int64_t flags) {
  TORCH_CHECK(projection.dim() == 3, "fused LSTM: projection must be (T, B, G*H)");
  TORCH_CHECK(projection.device().is_cpu(), "fused LSTM: projection must be on the CPU");
  const auto dtype = projection.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "fused LSTM: float32 or float64 only");
  const at::Tensor xproj = projection.contiguous();
  const Prepared w = prepare(xproj, R, peepholes, R_gates, flags);
  const int64_t steps = xproj.size(0), batch = xproj.size(1), hidden = R.size(1);
  TORCH_CHECK(xproj.size(2) == R.size(0), "fused LSTM: projection width ", xproj.size(2),
              " does not match R's ", R.size(0), " rows");
  at::Tensor acts = at::empty_like(xproj);
  at::Tensor cell = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor hcell = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor out = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor zeros = at::zeros({hidden}, xproj.options());
  const auto peep = optional_of(w.peepholes);
  if (dtype == at::kFloat) {
    const auto L = make_layer<float>(w.R, w.RT, peep, w.Rg, w.RgT, flags, steps, batch);
    forward_dispatch(L, xproj, acts, cell, hcell, out, zeros);
  } else {
    const auto L = make_layer<double>(w.R, w.RT, peep, w.Rg, w.RgT, flags, steps, batch);
    forward_dispatch(L, xproj, acts, cell, hcell, out, zeros);
  }
  return {out, cell, hcell, acts};
}

// Returns dL/d(pre-activations), (T, B, G*H), given dL/dy and the saved forward state.
at::Tensor fused_backward(const at::Tensor& grad_y, const at::Tensor& R,
                          const std::optional<at::Tensor>& peepholes,
                          const std::optional<at::Tensor>& R_gates, const at::Tensor& cell,
                          const at::Tensor& hcell, const at::Tensor& acts, int64_t flags) {
  const auto dtype = acts.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "fused LSTM: float32 or float64 only");
  check_tensor(grad_y, "grad_y", acts);
  const at::Tensor gy = grad_y.contiguous();
  const at::Tensor a = acts.contiguous(), c = cell.contiguous(), hc = hcell.contiguous();
  const Prepared w = prepare(a, R, peepholes, R_gates, flags);
  const int64_t steps = a.size(0), batch = a.size(1), hidden = R.size(1);
  TORCH_CHECK(gy.size(0) == steps && gy.size(1) == batch && gy.size(2) == hidden,
              "fused LSTM: grad_y must be (T, B, H)");
  at::Tensor dpre = at::empty_like(a);
  at::Tensor dy_carry = at::zeros({batch, hidden}, a.options());
  at::Tensor dc_carry = at::zeros({batch, hidden}, a.options());
  at::Tensor dgates_carry = at::zeros({batch, 3 * hidden}, a.options());
  at::Tensor scratch = at::zeros({2 * hidden}, a.options());
  at::Tensor zeros = at::zeros({hidden}, a.options());
  const auto peep = optional_of(w.peepholes);
  if (dtype == at::kFloat) {
    const auto L = make_layer<float>(w.R, w.RT, peep, w.Rg, w.RgT, flags, steps, batch);
    backward_float(L, gy.data_ptr<float>(), a.data_ptr<float>(), c.data_ptr<float>(),
                   hc.data_ptr<float>(), dpre.data_ptr<float>(), dy_carry.data_ptr<float>(),
                   dc_carry.data_ptr<float>(), dgates_carry.data_ptr<float>(),
                   scratch.data_ptr<float>(), zeros.data_ptr<float>());
  } else {
    const auto L = make_layer<double>(w.R, w.RT, peep, w.Rg, w.RgT, flags, steps, batch);
    backward_double(L, gy.data_ptr<double>(), a.data_ptr<double>(), c.data_ptr<double>(),
                    hc.data_ptr<double>(), dpre.data_ptr<double>(), dy_carry.data_ptr<double>(),
                    dc_carry.data_ptr<double>(), dgates_carry.data_ptr<double>(),
                    scratch.data_ptr<double>(), zeros.data_ptr<double>());
  }
  return dpre;
}

}  // namespace

TORCH_LIBRARY(lstm_odyssey_fused, m) {
  m.def("forward", &fused_forward);
  m.def("backward", &fused_backward);
}
