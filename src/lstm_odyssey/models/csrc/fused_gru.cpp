// Fused CPU time loop for the GRU of lstm_odyssey/models/gru.py (torch's formulation:
// the reset gate applied after the recurrent product).
//
// Companion of lstm_odyssey/models/fast_gru.py and tested against gru.run_reference.
// Built into the same extension as fused_lstm.cpp (same op namespace, same ISA
// paths and $LSTM_ODYSSEY_KERNEL_ISA cap, same packed matrix-vector product from
// kernel_common.h), so one build serves both and a compile error here fails it.
//
// Forward:  hp = R h[t-1] (one product of all three blocks), then per unit
//             r = sigmoid(xp_r + hp_r), z = sigmoid(xp_z + hp_z),
//             hn = hp_n + b_Rn, n = tanh(xp_n + r * hn), h = (1 - z) n + z h[t-1],
//           where xp = W x + b for all steps is one GEMM done in Python. Saves
//           [r, z, n, hn] per step for the backward pass.
// Backward: walks back in time computing, per step, the deltas of the input
//           projection [d a_r, d a_z, d a_n] and of the recurrent product
//           [d a_r, d a_z, d hn] (d hn = d a_n * r), and dh[t-1] = z dh + R^T (the
//           latter). dW, dR, db, db_Rn and dx are GEMMs/reductions in Python.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <vector>

namespace {

#include "kernel_common.h"

template <typename T>
struct Gru {
  int64_t steps, batch, hidden;
  const T* recurrent;  // R (forward) or R^T (backward), packed by pack_panels
  const T* b_rn;       // (H)
};

// One step for one sequence: xp (3H) = W x + b, hp (3H) = R h', acts (4H) <- [r, z, n, hn].
template <typename T>
KERNEL_INLINE void gru_cell_forward(int64_t H, const T* __restrict__ xp, const T* __restrict__ hp,
                                    const T* __restrict__ b_rn, const T* __restrict__ h_prev,
                                    T* __restrict__ acts, T* __restrict__ h) {
  T* __restrict__ r = acts;
  T* __restrict__ z = acts + H;
  T* __restrict__ n = acts + 2 * H;
  T* __restrict__ hn = acts + 3 * H;
  for (int64_t j = 0; j < H; ++j) r[j] = sigmoid_(xp[j] + hp[j]);
  for (int64_t j = 0; j < H; ++j) z[j] = sigmoid_(xp[H + j] + hp[H + j]);
  for (int64_t j = 0; j < H; ++j) hn[j] = hp[2 * H + j] + b_rn[j];
  for (int64_t j = 0; j < H; ++j) n[j] = tanh_(xp[2 * H + j] + r[j] * hn[j]);
  for (int64_t j = 0; j < H; ++j) h[j] = (T(1) - z[j]) * n[j] + z[j] * h_prev[j];
}

// hp: (B, 3H) scratch.
template <int kNative, typename T>
KERNEL_INLINE void gru_forward_loop(const Gru<T>& G, const T* __restrict__ xproj,
                                    T* __restrict__ acts, T* __restrict__ out, T* __restrict__ hp,
                                    const T* __restrict__ zeros) {
  const int64_t B = G.batch, H = G.hidden;
  for (int64_t t = 0; t < G.steps; ++t) {
    for (int64_t k = 0; k < B * 3 * H; ++k) hp[k] = T(0);
    if (t > 0)
      accumulate_matvec<kNative>(hp, 3 * H, out + (t - 1) * B * H, H, G.recurrent, H, 3 * H, B);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = t * B + b;
      const T* h_prev = t > 0 ? out + (row - B) * H : zeros;
      gru_cell_forward(H, xproj + row * 3 * H, hp + b * 3 * H, G.b_rn, h_prev,
                       acts + row * 4 * H, out + row * H);
    }
  }
}

// One step for one sequence. dh = total dL/dh_t (in), dh_carry <- z * dh (the direct
// path to h_{t-1}; the caller adds R^T d_rec), d_in (3H) <- [d a_r, d a_z, d a_n],
// d_rec (3H) <- [d a_r, d a_z, d hn].
template <typename T>
KERNEL_INLINE void gru_cell_backward(int64_t H, const T* __restrict__ acts,
                                     const T* __restrict__ h_prev, const T* __restrict__ dh,
                                     T* __restrict__ dh_carry, T* __restrict__ d_in,
                                     T* __restrict__ d_rec) {
  const T* __restrict__ r = acts;
  const T* __restrict__ z = acts + H;
  const T* __restrict__ n = acts + 2 * H;
  const T* __restrict__ hn = acts + 3 * H;
  T* __restrict__ d_ar = d_in;
  T* __restrict__ d_az = d_in + H;
  T* __restrict__ d_an = d_in + 2 * H;
  // h = (1 - z) n + z h'
  for (int64_t j = 0; j < H; ++j) d_an[j] = dh[j] * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
  for (int64_t j = 0; j < H; ++j) d_az[j] = dh[j] * (h_prev[j] - n[j]) * z[j] * (T(1) - z[j]);
  for (int64_t j = 0; j < H; ++j) d_ar[j] = d_an[j] * hn[j] * r[j] * (T(1) - r[j]);
  for (int64_t j = 0; j < H; ++j) dh_carry[j] = dh[j] * z[j];
  for (int64_t j = 0; j < 2 * H; ++j) d_rec[j] = d_in[j];
  for (int64_t j = 0; j < H; ++j) d_rec[2 * H + j] = d_an[j] * r[j];
}

// dh_carry (B, H) zero on entry; dh (H) scratch.
template <int kNative, typename T>
KERNEL_INLINE void gru_backward_loop(const Gru<T>& G, const T* __restrict__ grad_y,
                                     const T* __restrict__ acts, const T* __restrict__ out,
                                     T* __restrict__ d_in, T* __restrict__ d_rec,
                                     T* __restrict__ dh_carry, T* __restrict__ dh,
                                     const T* __restrict__ zeros) {
  const int64_t B = G.batch, H = G.hidden;
  for (int64_t t = G.steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = t * B + b;
      for (int64_t j = 0; j < H; ++j) dh[j] = grad_y[row * H + j] + dh_carry[b * H + j];
      const T* h_prev = t > 0 ? out + (row - B) * H : zeros;
      gru_cell_backward(H, acts + row * 4 * H, h_prev, dh, dh_carry + b * H, d_in + row * 3 * H,
                        d_rec + row * 3 * H);
    }
    if (t == 0) break;  // nothing flows into the zero initial state
    accumulate_matvec<kNative>(dh_carry, H, d_rec + t * B * 3 * H, 3 * H, G.recurrent, 3 * H, H,
                               B);
  }
}

template <typename T>
__attribute__((noinline)) void gru_forward_base(const Gru<T>& G, const T* xproj, T* acts, T* out,
                                                T* hp, const T* zeros) {
  gru_forward_loop<16>(G, xproj, acts, out, hp, zeros);
}
template <typename T>
__attribute__((noinline)) void gru_backward_base(const Gru<T>& G, const T* grad_y, const T* acts,
                                                 const T* out, T* d_in, T* d_rec, T* dh_carry,
                                                 T* dh, const T* zeros) {
  gru_backward_loop<16>(G, grad_y, acts, out, d_in, d_rec, dh_carry, dh, zeros);
}
#ifdef KERNEL_AVX2
#define DEFINE_GRU_KERNELS(suffix, target_attribute, native)                                    \
  template <typename T>                                                                        \
  __attribute__((noinline, target_attribute)) void gru_forward_##suffix(                       \
      const Gru<T>& G, const T* xproj, T* acts, T* out, T* hp, const T* zeros) {               \
    gru_forward_loop<native>(G, xproj, acts, out, hp, zeros);                                  \
  }                                                                                            \
  template <typename T>                                                                        \
  __attribute__((noinline, target_attribute)) void gru_backward_##suffix(                      \
      const Gru<T>& G, const T* grad_y, const T* acts, const T* out, T* d_in, T* d_rec,        \
      T* dh_carry, T* dh, const T* zeros) {                                                    \
    gru_backward_loop<native>(G, grad_y, acts, out, d_in, d_rec, dh_carry, dh, zeros);         \
  }
DEFINE_GRU_KERNELS(avx2, KERNEL_TARGET_AVX2, 32)
DEFINE_GRU_KERNELS(avx512, KERNEL_TARGET_AVX512, 64)
#endif

// ---- ATen glue -----------------------------------------------------------------

void check_gru_tensor(const at::Tensor& tensor, const char* name, const at::Tensor& like) {
  TORCH_CHECK(tensor.device().is_cpu(), "fused GRU: ", name, " must be on the CPU");
  TORCH_CHECK(tensor.scalar_type() == like.scalar_type(), "fused GRU: ", name, " has dtype ",
              tensor.scalar_type(), ", expected ", like.scalar_type());
}

template <typename T>
Gru<T> make_gru(const at::Tensor& packed, const at::Tensor& b_rn, int64_t steps, int64_t batch,
                int64_t hidden) {
  Gru<T> G{};
  G.steps = steps;
  G.batch = batch;
  G.hidden = hidden;
  G.recurrent = packed.data_ptr<T>();
  G.b_rn = b_rn.data_ptr<T>();
  return G;
}

void check_gru_parameters(const at::Tensor& like, const at::Tensor& R, const at::Tensor& b_rn) {
  check_gru_tensor(R, "R", like);
  check_gru_tensor(b_rn, "b_Rn", like);
  const int64_t hidden = R.size(1);
  TORCH_CHECK(R.dim() == 2 && R.size(0) == 3 * hidden, "fused GRU: R must be (3H, H)");
  TORCH_CHECK(b_rn.dim() == 1 && b_rn.size(0) == hidden, "fused GRU: b_Rn must be (H)");
}

// projection: (T, B, 3H) = W x + b. Returns [h (T, B, H), acts (T, B, 4H): r, z, n, hn].
std::vector<at::Tensor> gru_forward(const at::Tensor& projection, const at::Tensor& R,
                                    const at::Tensor& b_rn) {
  TORCH_CHECK(projection.dim() == 3, "fused GRU: projection must be (T, B, 3H)");
  TORCH_CHECK(projection.device().is_cpu(), "fused GRU: projection must be on the CPU");
  const auto dtype = projection.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "fused GRU: float32 or float64 only");
  check_gru_parameters(projection, R, b_rn);
  const at::Tensor xproj = projection.contiguous();
  const at::Tensor bias = b_rn.contiguous();
  const int64_t steps = xproj.size(0), batch = xproj.size(1), hidden = R.size(1);
  TORCH_CHECK(xproj.size(2) == 3 * hidden, "fused GRU: projection width ", xproj.size(2),
              " does not match R's ", R.size(0), " rows");
  const at::Tensor packed = pack_panels(R);
  at::Tensor acts = at::empty({steps, batch, 4 * hidden}, xproj.options());
  at::Tensor out = at::empty({steps, batch, hidden}, xproj.options());
  at::Tensor hp = at::empty({batch, 3 * hidden}, xproj.options());
  at::Tensor zeros = at::zeros({hidden}, xproj.options());
  AT_DISPATCH_FLOATING_TYPES(dtype, "fused_gru_forward", [&] {
    const auto G = make_gru<scalar_t>(packed, bias, steps, batch, hidden);
    auto* kernel = &gru_forward_base<scalar_t>;
#ifdef KERNEL_AVX2
    if (cpu_isa() == Isa::kAvx512) kernel = &gru_forward_avx512<scalar_t>;
    if (cpu_isa() == Isa::kAvx2) kernel = &gru_forward_avx2<scalar_t>;
#endif
    kernel(G, xproj.data_ptr<scalar_t>(), acts.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
           hp.data_ptr<scalar_t>(), zeros.data_ptr<scalar_t>());
  });
  return {out, acts};
}

// Given dL/dh (T, B, H) and the saved forward state, returns [d_in, d_rec], both (T, B, 3H):
// the deltas of W x + b ([a_r, a_z, a_n]) and of R h' ([a_r, a_z, hn]).
std::vector<at::Tensor> gru_backward(const at::Tensor& grad_y, const at::Tensor& R,
                                     const at::Tensor& b_rn, const at::Tensor& out,
                                     const at::Tensor& acts) {
  const auto dtype = acts.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, "fused GRU: float32 or float64 only");
  check_gru_tensor(grad_y, "grad_y", acts);
  check_gru_tensor(out, "h", acts);
  check_gru_parameters(acts, R, b_rn);
  const at::Tensor gy = grad_y.contiguous(), a = acts.contiguous(), h = out.contiguous();
  const int64_t steps = a.size(0), batch = a.size(1), hidden = R.size(1);
  TORCH_CHECK(a.dim() == 3 && a.size(2) == 4 * hidden, "fused GRU: acts must be (T, B, 4H)");
  TORCH_CHECK(gy.dim() == 3 && gy.size(0) == steps && gy.size(1) == batch &&
                  gy.size(2) == hidden,
              "fused GRU: grad_y must be (T, B, H)");
  TORCH_CHECK(h.sizes() == gy.sizes(), "fused GRU: h must be (T, B, H)");
  const at::Tensor packed = pack_panels(R.t());  // dh' = R^T d_rec
  at::Tensor d_in = at::empty({steps, batch, 3 * hidden}, a.options());
  at::Tensor d_rec = at::empty({steps, batch, 3 * hidden}, a.options());
  at::Tensor dh_carry = at::zeros({batch, hidden}, a.options());
  at::Tensor dh = at::zeros({hidden}, a.options());
  at::Tensor zeros = at::zeros({hidden}, a.options());
  AT_DISPATCH_FLOATING_TYPES(dtype, "fused_gru_backward", [&] {
    const auto G = make_gru<scalar_t>(packed, b_rn, steps, batch, hidden);
    auto* kernel = &gru_backward_base<scalar_t>;
#ifdef KERNEL_AVX2
    if (cpu_isa() == Isa::kAvx512) kernel = &gru_backward_avx512<scalar_t>;
    if (cpu_isa() == Isa::kAvx2) kernel = &gru_backward_avx2<scalar_t>;
#endif
    kernel(G, gy.data_ptr<scalar_t>(), a.data_ptr<scalar_t>(), h.data_ptr<scalar_t>(),
           d_in.data_ptr<scalar_t>(), d_rec.data_ptr<scalar_t>(), dh_carry.data_ptr<scalar_t>(),
           dh.data_ptr<scalar_t>(), zeros.data_ptr<scalar_t>());
  });
  return {d_in, d_rec};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(lstm_odyssey_fused, m) {
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
}
