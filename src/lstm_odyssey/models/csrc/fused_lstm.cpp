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
// At large H a step costs what reading the recurrent matrix from cache costs, so
// the matrix is repacked once per call into panels that are read as sequential
// streams (accumulate_matvec in kernel_common.h, shared with fused_gru.cpp), summed
// in registers of the path's own width. The loops are plain C++ on raw pointers
// and GCC vectors; on x86-64 the time loops
// are compiled for AVX-512, AVX2+FMA and baseline and picked at run time (so the
// build needs no -march=native), capped by $LSTM_ODYSSEY_KERNEL_ISA so every
// lower path can be tested and timed on one machine; kernel_isa() names the path.
// Elsewhere (ARM) one portable path is compiled, which the compiler vectorises.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

// Bit flags describing a variant; must match variant_flags in fast_lstm.py.
constexpr int64_t kInputGate = 1;
constexpr int64_t kForgetGate = 2;
constexpr int64_t kOutputGate = 4;
constexpr int64_t kCoupled = 8;        // CIFG: f = 1 - i
constexpr int64_t kBlockTanh = 16;     // g = tanh (else identity)
constexpr int64_t kOutputTanh = 32;    // h = tanh (else identity)
constexpr int64_t kPeepholes = 64;
constexpr int64_t kGateRecurrence = 128;  // FGR

#include "kernel_common.h"

// ---- the layer, as raw pointers ------------------------------------------------

template <typename T>
struct Layer {
  int64_t steps, batch, hidden, width;  // width = G * hidden (all blocks)
  int64_t flags;
  int64_t off_i, off_f, off_o;          // block offsets in a width-long row, -1 if absent
  // this pass's matrices packed into panels (see pack_panels): forward R and
  // R_gates, backward their transposes; gate_recurrent only for FGR
  const T* recurrent;
  const T* gate_recurrent;
  const T* p_i;                         // peephole rows, nullptr if absent
  const T* p_f;
  const T* p_o;
};

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

template <int kNative, typename T>
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
      accumulate_matvec<kNative>(a_t, W, y_prev, H, L.recurrent, H, W, B);
      if (recurrent_gates) {  // previous [i, f, o] are the last 3H entries of a row
        const T* a_prev = acts + (t - 1) * B * W;
        accumulate_matvec<kNative>(a_t + H, W, a_prev + H, W, L.gate_recurrent, 3 * H, 3 * H, B);
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
template <int kNative, typename T>
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
    accumulate_matvec<kNative>(dy_carry, H, d_t, W, L.recurrent, W, H, B);
    if (recurrent_gates) {
      for (int64_t k = 0; k < B * 3 * H; ++k) dgates_carry[k] = T(0);
      accumulate_matvec<kNative>(dgates_carry, 3 * H, d_t + H, W, L.gate_recurrent, 3 * H, 3 * H,
                                 B);
    }
  }
}

// Out-of-line entry points: each loop is compiled for AVX-512, AVX2+FMA and
// baseline x86-64, and picked at run time (target_clones would dispatch "arch="
// clones on the exact CPU model, so AMD machines would get the baseline).
template <typename T>
__attribute__((noinline)) void forward_base(const Layer<T>& L, const T* xproj, T* acts, T* cell,
                                            T* hcell, T* out, const T* zeros) {
  forward_loop<16>(L, xproj, acts, cell, hcell, out, zeros);
}
template <typename T>
__attribute__((noinline)) void backward_base(const Layer<T>& L, const T* grad_y, const T* acts,
                                             const T* cell, const T* hcell, T* dpre, T* dy_carry,
                                             T* dc_carry, T* dgates_carry, T* scratch,
                                             const T* zeros) {
  backward_loop<16>(L, grad_y, acts, cell, hcell, dpre, dy_carry, dc_carry, dgates_carry, scratch,
                    zeros);
}
#ifdef KERNEL_AVX2
#define DEFINE_KERNELS(suffix, target_attribute, native)                                          \
  template <typename T>                                                                          \
  __attribute__((noinline, target_attribute)) void forward_##suffix(                             \
      const Layer<T>& L, const T* xproj, T* acts, T* cell, T* hcell, T* out, const T* zeros) {   \
    forward_loop<native>(L, xproj, acts, cell, hcell, out, zeros);                               \
  }                                                                                              \
  template <typename T>                                                                          \
  __attribute__((noinline, target_attribute)) void backward_##suffix(                            \
      const Layer<T>& L, const T* grad_y, const T* acts, const T* cell, const T* hcell, T* dpre, \
      T* dy_carry, T* dc_carry, T* dgates_carry, T* scratch, const T* zeros) {                   \
    backward_loop<native>(L, grad_y, acts, cell, hcell, dpre, dy_carry, dc_carry, dgates_carry,  \
                          scratch, zeros);                                                       \
  }
DEFINE_KERNELS(avx2, KERNEL_TARGET_AVX2, 32)
DEFINE_KERNELS(avx512, KERNEL_TARGET_AVX512, 64)
#endif

template <typename T>
void run_forward(const Layer<T>& L, const at::Tensor& xproj, at::Tensor& acts, at::Tensor& cell,
                 at::Tensor& hcell, at::Tensor& out, const at::Tensor& zeros) {
  auto* kernel = &forward_base<T>;
#ifdef KERNEL_AVX2
  if (cpu_isa() == Isa::kAvx512) kernel = &forward_avx512<T>;
  if (cpu_isa() == Isa::kAvx2) kernel = &forward_avx2<T>;
#endif
  kernel(L, xproj.data_ptr<T>(), acts.data_ptr<T>(), cell.data_ptr<T>(), hcell.data_ptr<T>(),
         out.data_ptr<T>(), zeros.data_ptr<T>());
}

template <typename T>
void run_backward(const Layer<T>& L, const at::Tensor& grad_y, const at::Tensor& acts,
                  const at::Tensor& cell, const at::Tensor& hcell, at::Tensor& dpre,
                  at::Tensor& dy_carry, at::Tensor& dc_carry, at::Tensor& dgates_carry,
                  at::Tensor& scratch, const at::Tensor& zeros) {
  auto* kernel = &backward_base<T>;
#ifdef KERNEL_AVX2
  if (cpu_isa() == Isa::kAvx512) kernel = &backward_avx512<T>;
  if (cpu_isa() == Isa::kAvx2) kernel = &backward_avx2<T>;
#endif
  kernel(L, grad_y.data_ptr<T>(), acts.data_ptr<T>(), cell.data_ptr<T>(), hcell.data_ptr<T>(),
         dpre.data_ptr<T>(), dy_carry.data_ptr<T>(), dc_carry.data_ptr<T>(),
         dgates_carry.data_ptr<T>(), scratch.data_ptr<T>(), zeros.data_ptr<T>());
}

// ---- ATen glue -----------------------------------------------------------------

void check_tensor(const at::Tensor& tensor, const char* name, const at::Tensor& like) {
  TORCH_CHECK(tensor.device().is_cpu(), "fused LSTM: ", name, " must be on the CPU");
  TORCH_CHECK(tensor.scalar_type() == like.scalar_type(), "fused LSTM: ", name, " has dtype ",
              tensor.scalar_type(), ", expected ", like.scalar_type());
}

// The parameters of one pass in the kernel's layout; keeps the packed copies alive.
struct Prepared {
  at::Tensor recurrent, gate_recurrent, peepholes;
};

Prepared prepare(const at::Tensor& like, const at::Tensor& R, const std::optional<at::Tensor>& peepholes,
                 const std::optional<at::Tensor>& R_gates, int64_t flags, bool backward) {
  check_tensor(R, "R", like);
  Prepared prepared;
  // forward: pre += R y'; backward: dy' = R^T delta
  prepared.recurrent = pack_panels(backward ? R.t() : R);
  if (flags & kGateRecurrence) {
    TORCH_CHECK(R_gates.has_value(), "fused LSTM: gate recurrence needs R_gates");
    check_tensor(*R_gates, "R_gates", like);
    prepared.gate_recurrent = pack_panels(backward ? R_gates->t() : *R_gates);
  }
  if ((flags & kPeepholes) && peepholes.has_value()) {
    check_tensor(*peepholes, "p", like);
    prepared.peepholes = peepholes->contiguous();
  }
  return prepared;
}

template <typename T>
Layer<T> make_layer(const Prepared& prepared, int64_t flags, int64_t steps, int64_t batch,
                    int64_t hidden, int64_t width) {
  Layer<T> L{};
  L.steps = steps;
  L.batch = batch;
  L.hidden = hidden;
  L.width = width;
  L.flags = flags;
  // blocks are z, then the present gates in the order i, f, o
  int64_t block = 1;
  L.off_i = (flags & kInputGate) ? hidden * block++ : -1;
  L.off_f = (flags & kForgetGate) ? hidden * block++ : -1;
  L.off_o = (flags & kOutputGate) ? hidden * block++ : -1;
  TORCH_CHECK(block * hidden == width, "fused LSTM: R has ", width, " rows, expected ",
              block * hidden, " for the variant's blocks");
  L.recurrent = prepared.recurrent.data_ptr<T>();
  L.gate_recurrent = nullptr;
  if (flags & kGateRecurrence) {
    TORCH_CHECK(block == 4, "fused LSTM: gate recurrence needs all three gates");
    L.gate_recurrent = prepared.gate_recurrent.data_ptr<T>();
  }
  L.p_i = L.p_f = L.p_o = nullptr;
  if (prepared.peepholes.defined()) {
    // one row per present gate, in the order i, f, o
    const T* p = prepared.peepholes.data_ptr<T>();
    int64_t row = 0;
    if (flags & kInputGate) L.p_i = p + hidden * row++;
    if (flags & kForgetGate) L.p_f = p + hidden * row++;
    if (flags & kOutputGate) L.p_o = p + hidden * row++;
    TORCH_CHECK(prepared.peepholes.size(0) == row, "fused LSTM: expected ", row, " peephole rows");
  }
  return L;
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
  const Prepared w = prepare(xproj, R, peepholes, R_gates, flags, /*backward=*/false);
  const int64_t steps = xproj.size(0), batch = xproj.size(1), hidden = R.size(1);
  TORCH_CHECK(xproj.size(2) == R.size(0), "fused LSTM: projection width ", xproj.size(2),
              " does not match R's ", R.size(0), " rows");
  at::Tensor acts = at::empty_like(xproj);
  at::Tensor cell = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor hcell = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor out = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor zeros = at::zeros({hidden}, xproj.options());
  if (dtype == at::kFloat) {
    const auto L = make_layer<float>(w, flags, steps, batch, hidden, R.size(0));
    run_forward(L, xproj, acts, cell, hcell, out, zeros);
  } else {
    const auto L = make_layer<double>(w, flags, steps, batch, hidden, R.size(0));
    run_forward(L, xproj, acts, cell, hcell, out, zeros);
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
  const Prepared w = prepare(a, R, peepholes, R_gates, flags, /*backward=*/true);
  const int64_t steps = a.size(0), batch = a.size(1), hidden = R.size(1);
  TORCH_CHECK(gy.size(0) == steps && gy.size(1) == batch && gy.size(2) == hidden,
              "fused LSTM: grad_y must be (T, B, H)");
  at::Tensor dpre = at::empty_like(a);
  at::Tensor dy_carry = at::zeros({batch, hidden}, a.options());
  at::Tensor dc_carry = at::zeros({batch, hidden}, a.options());
  at::Tensor dgates_carry = at::zeros({batch, 3 * hidden}, a.options());
  at::Tensor scratch = at::zeros({2 * hidden}, a.options());
  at::Tensor zeros = at::zeros({hidden}, a.options());
  if (dtype == at::kFloat) {
    const auto L = make_layer<float>(w, flags, steps, batch, hidden, R.size(0));
    run_backward(L, gy, a, c, hc, dpre, dy_carry, dc_carry, dgates_carry, scratch, zeros);
  } else {
    const auto L = make_layer<double>(w, flags, steps, batch, hidden, R.size(0));
    run_backward(L, gy, a, c, hc, dpre, dy_carry, dc_carry, dgates_carry, scratch, zeros);
  }
  return dpre;
}

}  // namespace

// The path the time loops take now: "avx512", "avx2", "baseline" (x86-64 without AVX2+FMA,
// or capped), or "portable" (other architectures: plain C++ the compiler vectorises).
std::string kernel_isa() {
#ifdef KERNEL_AVX2
  switch (cpu_isa()) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "baseline";
  }
#else
  return "portable";
#endif
}

TORCH_LIBRARY(lstm_odyssey_fused, m) {
  m.def("kernel_isa", &kernel_isa);
  m.def("forward", &fused_forward);
  m.def("backward", &fused_backward);
}
