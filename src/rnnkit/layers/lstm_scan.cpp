// The LSTM family's scan as one C++ loop: forward and backward of cells/lstm.py's lstm_core over all T
// steps, with peephole connections, layer normalization, zoneout / padding (keep) and recurrent
// dropout (rec_mask); built and called by layers/native.py, which documents the tensors.
//
// Per step the forward does what layers/scan.py's fast scan does in Python, minus the interpreter:
//   gh = (h * rec_mask) W^T                        one product (oneDNN with W pre-packed, else at::mm)
//   (h, c) = keep-mix of lstm_core(gx_t, gh, (h, c))   one pass over the batch rows, in parallel
// and the backward walks the steps in reverse with the hand-written derivative of that step:
//   da  = d(gate pre-activations)   (dgx[t] is da, through the input layer norm if the loop applies
//                                    it; the other parameters' gradients, sums over (t, b), are
//                                    accumulated on the way)
//   dgh = da, through the layer norm of gh if any;   dh_{t-1} = dgh W (* rec_mask) + keep_h * dh_t
//
// Equations (lstm_core; rows of the stacked gates in order i, f, g, o; all elementwise over H):
//   a     = [LN(gx) * ln_ih_weight + bias_ih | gx] + [LN(gh) * ln_hh_weight | gh] + bias_hh
//           (a layer-norm cell's gx comes in as x W_ih^T, normalized here; otherwise it holds b_ih)
//   i     = sigmoid(a_i + w_ci * c),  f = sigmoid(a_f + w_cf * c),  g = tanh(a_g)
//   c'    = f * c + i * g
//   o     = sigmoid(a_o + w_co * c')
//   h'    = o * tanh([LN(c') * ln_cell_weight + ln_cell_bias | c'])
//   state = where(keep == 1, old, keep * old + (1 - keep) * new)     for h and for c
// tanh(x) is computed as 2 / (1 + exp(-2x)) - 1, as the compiled scan does (layers/scan.py).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/cpu/vec/vec.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <vector>

namespace {

using at::Tensor;
using OptTensor = std::optional<Tensor>;
template <typename T> using Vec = at::vec::Vectorized<T>;

// exp: Sleef's (ATen's Vectorized::exp) for double; for float, inlined here: x = n ln2 + r with
// |r| <= ln2 / 2 (Cody-Waite, ln2 in two parts), Cephes' expf polynomial for e^r, and 2^n written into
// the exponent bits; within 1 ulp (1.18e-7 relative at most over [-87, 88.3], measured against
// float64), like Sleef's, without its out-of-line call per vector. Peephole LSTM, H=256, 100 steps,
// two alternations: forward loop 26.5-28.0 against 26.7-30.5 ms, backward 33.6-36.7 against 38.9-42.4.
template <typename T> inline Vec<T> exp_(const Vec<T>& x) { return x.exp(); }
template <> inline Vec<float> exp_(const Vec<float>& x_) {
  using F = Vec<float>;
  const F x = at::vec::clamp(x_, F(-87.3f), F(88.3f));  // 2^n stays a normal float
  const F n = (x * F(1.44269504088896341f)).round();
  F r = at::vec::fmadd(n, F(-0.693359375f), x);
  r = at::vec::fmadd(n, F(2.12194440e-4f), r);
  F p = F(1.9875691500e-4f);
  p = at::vec::fmadd(p, r, F(1.3981999507e-3f));
  p = at::vec::fmadd(p, r, F(8.3334519073e-3f));
  p = at::vec::fmadd(p, r, F(4.1665795894e-2f));
  p = at::vec::fmadd(p, r, F(1.6666665459e-1f));
  p = at::vec::fmadd(p, r, F(5.0000001201e-1f));
  p = at::vec::fmadd(p, r * r, r + F(1));
  const Vec<int32_t> exponent = (at::vec::convert_to_int_of_same_size(n) + Vec<int32_t>(127)) << Vec<int32_t>(23);
  return p * at::vec::cast<float>(exponent);
}
template <typename T> inline Vec<T> sigmoid(const Vec<T>& x) { return Vec<T>(1) / (Vec<T>(1) + exp_(x.neg())); }
template <typename T> inline Vec<T> tanh_(const Vec<T>& x) {
  return Vec<T>(2) / (Vec<T>(1) + exp_(x * Vec<T>(-2))) - Vec<T>(1);
}

// x w^T: w is either a weight packed by mkldnn::_reorder_linear_weight (float32) or a dense (G, P) matrix.
Tensor product(const Tensor& x, const Tensor& w) {
  if (w.is_mkldnn()) {
    static auto op = c10::Dispatcher::singleton()
        .findSchemaOrThrow("mkldnn::_linear_pointwise", "")
        .typed<Tensor(const Tensor&, const Tensor&, const OptTensor&, c10::string_view,
                      c10::List<std::optional<at::Scalar>>, std::optional<c10::string_view>)>();
    return op.call(x, w, std::nullopt, "none", c10::List<std::optional<at::Scalar>>(), std::nullopt);
  }
  return at::mm(x, w.t());
}

// The loop's large buffers ((T, B, 4H) and (T, B, H)), kept between calls as a caching allocator
// would keep them: a fresh one is page-faulted in again on every call (glibc hands freed memory back),
// and on these virtual machines that costs as much as the loop's own arithmetic (a training step at
// B=64, T=100, H=256: 16,000-35,000 page faults with fresh buffers, 25-960 with kept ones; torch.nn.LSTM
// takes about 16,000). A kept buffer is handed out again only
// when nothing else holds it or its storage (a saved tensor, a view, a gradient still in flight), so
// reuse never overwrites live data. When no free one fits, the free ones of other shapes are let go
// before a new one is made, so shapes that change from call to call (batches of varying T) keep
// nothing extra alive; at most 16 are kept.
std::mutex kept_lock;
std::deque<Tensor> kept;  // never handed out themselves: callers get a new tensor on the same storage

// Free: no tensor but the kept one on its storage. (The kept tensor's own use count cannot tell: once
// a tensor has been seen by Python, torch keeps its Python object alive as long as C++ holds it.)
bool is_free(const Tensor& t) { return t.storage().use_count() == 1; }

Tensor share_storage(const Tensor& t) {
  Tensor out = at::empty({0}, t.options());
  out.set_(t.storage(), 0, t.sizes(), t.strides());
  return out;
}

Tensor buffer(at::IntArrayRef sizes, const at::TensorOptions& options) {
  std::lock_guard<std::mutex> guard(kept_lock);
  for (const Tensor& t : kept) {
    if (is_free(t) && t.sizes() == sizes && t.dtype() == options.dtype()) return share_storage(t);
  }
  kept.erase(std::remove_if(kept.begin(), kept.end(), is_free), kept.end());
  if (kept.size() == 16) kept.pop_front();
  kept.push_back(at::empty(sizes, options));
  return share_storage(kept.back());
}

// Bytes held by the kept buffers that nothing else holds (for tests and memory accounting).
int64_t kept_free_bytes() {
  std::lock_guard<std::mutex> guard(kept_lock);
  int64_t bytes = 0;
  for (const Tensor& t : kept) bytes += is_free(t) ? t.nbytes() : 0;
  return bytes;
}

template <typename T> const T* ptr(const OptTensor& t) { return t.has_value() ? t->data_ptr<T>() : nullptr; }

// One row of an optional (T, B, K) keep tensor, K = 1 (one value for the row) or H.
template <typename T> struct KeepRow {
  const T* p = nullptr;
  bool scalar = false;
  Vec<T> at(int64_t j, int64_t n) const { return scalar ? Vec<T>(p[0]) : Vec<T>::loadu(p + j, n); }
};

template <typename T> KeepRow<T> keep_row(const OptTensor& keep, int64_t t, int64_t b) {
  KeepRow<T> row;
  if (keep.has_value()) {
    const int64_t K = keep->size(2);
    row.p = keep->data_ptr<T>() + (t * keep->size(1) + b) * K;
    row.scalar = K == 1;
  }
  return row;
}

template <typename T> inline Vec<T> load(const T* p, int64_t j, int64_t n) { return Vec<T>::loadu(p + j, n); }
template <typename T> inline Vec<T> load_or(const T* p, int64_t j, int64_t n, T otherwise) {
  return p ? Vec<T>::loadu(p + j, n) : Vec<T>(otherwise);
}
template <typename T> inline T sum(const Vec<T>& v) {
  T lanes[Vec<T>::size()];
  v.store(lanes);
  T s = 0;
  for (int64_t k = 0; k < Vec<T>::size(); ++k) s += lanes[k];
  return s;
}

// Mean and 1/sqrt(var + eps) of x[0:n] (biased variance, as F.layer_norm), two passes.
template <typename T> std::pair<T, T> moments(const T* x, int64_t n, double eps) {
  const int64_t V = Vec<T>::size();
  Vec<T> acc(0);
  for (int64_t j = 0; j < n; j += V) acc = acc + Vec<T>::loadu(x + j, std::min(V, n - j));
  const T mean = sum(acc) / n;
  acc = Vec<T>(0);
  for (int64_t j = 0; j < n; j += V) {
    const int64_t m = std::min(V, n - j);
    Vec<T> d = Vec<T>::loadu(x + j, m) - Vec<T>(mean);
    d = Vec<T>::set(Vec<T>(0), d, m);  // lanes past n stay 0
    acc = acc + d * d;
  }
  return {mean, T(1) / std::sqrt(sum(acc) / n + T(eps))};
}

// The optional parameters as raw pointers (null when absent).
template <typename T> struct Params {
  const T *bias, *wci, *wcf, *wco, *ln_hh, *ln_c_w, *ln_c_b, *ln_ih, *b_ih;
  Params(const OptTensor& bias_hh, const OptTensor& ci, const OptTensor& cf, const OptTensor& co,
         const OptTensor& lnh, const OptTensor& lncw, const OptTensor& lncb, const OptTensor& lni,
         const OptTensor& bi)
      : bias(ptr<T>(bias_hh)), wci(ptr<T>(ci)), wcf(ptr<T>(cf)), wco(ptr<T>(co)), ln_hh(ptr<T>(lnh)),
        ln_c_w(ptr<T>(lncw)), ln_c_b(ptr<T>(lncb)), ln_ih(ptr<T>(lni)), b_ih(ptr<T>(bi)) {}
};

// Layer norm moments of one row's input and recurrent pre-activations ({0, 1} where not normalized).
template <typename T> struct RowNorms {
  std::pair<T, T> x{0, 1}, gh{0, 1};
};

// The gates of one row, recomputed identically by forward and backward. Writes i, f, g, o and c'
// (each H wide) to `gates` (5H).
template <typename T>
RowNorms<T> row_gates(const T* x, const T* gh, const T* c, const Params<T>& p, int64_t H, double eps, T* gates) {
  const int64_t V = Vec<T>::size();
  RowNorms<T> norms;
  if (p.ln_ih) norms.x = moments(x, 4 * H, eps);
  if (p.ln_hh) norms.gh = moments(gh, 4 * H, eps);
  const Vec<T> mean_x(norms.x.first), rstd_x(norms.x.second), mean(norms.gh.first), rstd(norms.gh.second);
  for (int64_t j = 0; j < H; j += V) {
    const int64_t n = std::min(V, H - j);
    auto a = [&](int k) {
      Vec<T> r = load(gh, k * H + j, n), q = load(x, k * H + j, n);
      if (p.ln_hh) r = (r - mean) * rstd * load(p.ln_hh, k * H + j, n);
      if (p.ln_ih) q = (q - mean_x) * rstd_x * load(p.ln_ih, k * H + j, n) + load_or(p.b_ih, k * H + j, n, T(0));
      return q + r + load_or(p.bias, k * H + j, n, T(0));
    };
    const Vec<T> cv = load(c, j, n);
    Vec<T> ai = a(0), af = a(1);
    if (p.wci) {
      ai = ai + load(p.wci, j, n) * cv;
      af = af + load(p.wcf, j, n) * cv;
    }
    const Vec<T> i = sigmoid(ai), f = sigmoid(af), g = tanh_(a(2));
    const Vec<T> cn = f * cv + i * g;
    Vec<T> ao = a(3);
    if (p.wco) ao = ao + load(p.wco, j, n) * cn;
    i.store(gates + j, n);
    f.store(gates + H + j, n);
    g.store(gates + 2 * H + j, n);
    sigmoid(ao).store(gates + 3 * H + j, n);
    cn.store(gates + 4 * H + j, n);
  }
  return norms;
}

// d(input) of y = LN(input) * w for one row of n values, given dy: rstd * (dn - mean(dn) - x^ mean(dn x^))
// with dn = dy * w and x^ the normalized input; adds dy * x^ (w's gradient) to acc_w.
template <typename T>
void layer_norm_backward(const T* dy, const T* input, const T* w, std::pair<T, T> moments, int64_t n, T* dinput,
                         T* acc_w) {
  const int64_t V = Vec<T>::size();
  const Vec<T> mean(moments.first), rstd(moments.second);
  Vec<T> s1(0), s2(0);
  for (int64_t j = 0; j < n; j += V) {
    const int64_t m = std::min(V, n - j);
    const Vec<T> d = load(dy, j, m), normalized = (load(input, j, m) - mean) * rstd;
    const Vec<T> dn = Vec<T>::set(Vec<T>(0), d * load(w, j, m), m);
    (Vec<T>::loadu(acc_w + j, m) + d * normalized).store(acc_w + j, m);
    s1 = s1 + dn;
    s2 = s2 + dn * normalized;
  }
  const Vec<T> m1(sum(s1) / n), m2(sum(s2) / n);
  for (int64_t j = 0; j < n; j += V) {
    const int64_t m = std::min(V, n - j);
    const Vec<T> dn = load(dy, j, m) * load(w, j, m);
    (rstd * (dn - m1 - (load(input, j, m) - mean) * rstd * m2)).store(dinput + j, m);
  }
}

Tensor defined(const Tensor& t) { return t.defined() ? t : at::empty({0}); }

inline void check(bool ok, const char* what) { TORCH_CHECK(ok, "rnnkit lstm_scan: ", what); }

// Rows per thread: the step's pass over the batch is split over the threads (ATen's parallel_for, on
// torch's own OpenMP pool: the library is built with -fopenmp and loads torch's libgomp), each taking
// at least 4K values. At B=64, H=256 on 2 cores: the forward loop took 20.7-21.9 ms split, 25.5-25.7
// on one thread, against 17.2 for its products alone.
inline int64_t grain(int64_t H) { return std::max<int64_t>(1, 4096 / (4 * H)); }

template <typename T>
std::vector<Tensor> forward_impl(const Tensor& gx, const Tensor& w, const Tensor& h0, const Tensor& c0,
                                 const Params<T>& p, const OptTensor& keep_h, const OptTensor& keep_c,
                                 const OptTensor& rec_mask, double eps, bool save) {
  const int64_t T_ = gx.size(0), B = gx.size(1), H = c0.size(1), V = Vec<T>::size();
  Tensor hs = buffer({T_, B, H}, gx.options());
  Tensor cs = save ? buffer({T_, B, H}, gx.options()) : Tensor();  // c after each step
  Tensor ghs = save ? buffer({T_, B, 4 * H}, gx.options()) : Tensor();
  Tensor c_buf[2] = {c0.clone(), at::empty_like(c0)};  // when not saving, c alternates between two rows
  Tensor h = h0, c = c_buf[0];
  for (int64_t t = 0; t < T_; ++t) {
    Tensor gh = product(rec_mask.has_value() ? h * *rec_mask : h, w);  // (B, 4H)
    if (save) ghs[t].copy_(gh);
    Tensor c_out = save ? cs[t] : c_buf[(t + 1) % 2];
    const T *px = gx[t].data_ptr<T>(), *pgh = gh.data_ptr<T>(), *pc = c.data_ptr<T>(), *ph = h.data_ptr<T>();
    T *ph_out = hs[t].data_ptr<T>(), *pc_out = c_out.data_ptr<T>();
    at::parallel_for(0, B, grain(H), [&](int64_t b0, int64_t b1) {
      std::vector<T> gates(5 * H);
      for (int64_t b = b0; b < b1; ++b) {
        const T* c_row = pc + b * H;
        row_gates(px + b * 4 * H, pgh + b * 4 * H, c_row, p, H, eps, gates.data());
        const T *o = gates.data() + 3 * H, *cn = gates.data() + 4 * H;
        std::pair<T, T> ln{0, 1};
        if (p.ln_c_w) ln = moments(cn, H, eps);
        const KeepRow<T> kh = keep_row<T>(keep_h, t, b), kc = keep_row<T>(keep_c, t, b);
        for (int64_t j = 0; j < H; j += V) {
          const int64_t n = std::min(V, H - j);
          const Vec<T> c_new_v = load(cn, j, n);
          Vec<T> cl = c_new_v;
          if (p.ln_c_w) cl = (cl - Vec<T>(ln.first)) * Vec<T>(ln.second) * load(p.ln_c_w, j, n) + load(p.ln_c_b, j, n);
          Vec<T> h_v = load(o, j, n) * tanh_(cl), c_v = c_new_v;
          if (kh.p) {
            const Vec<T> k = kh.at(j, n), old = load(ph + b * H, j, n);
            h_v = Vec<T>::blendv(k * old + (Vec<T>(1) - k) * h_v, old, k == Vec<T>(1));
          }
          if (kc.p) {
            const Vec<T> k = kc.at(j, n), old = load(c_row, j, n);
            c_v = Vec<T>::blendv(k * old + (Vec<T>(1) - k) * c_v, old, k == Vec<T>(1));
          }
          h_v.store(ph_out + b * H + j, n);
          c_v.store(pc_out + b * H + j, n);
        }
      }
    });
    h = hs[t];
    c = c_out;
  }
  return {hs, h, c.clone(), defined(ghs), defined(cs)};
}

// The parameters' gradients are sums over (t, b); each thread adds its rows of a step into its own
// row of `partial`, and the step's rows are then added to `total`, so no row waits for another.
// Offsets into a row (21H): bias_hh, w_ci, w_cf, w_co, ln_hh_weight, ln_cell_weight, ln_cell_bias,
// ln_ih_weight, bias_ih (the last two when the input pre-activations are normalized here).
struct Offsets {
  int64_t bias, ci, cf, co, ln_hh, ln_c_w, ln_c_b, ln_ih, b_ih, size;
  explicit Offsets(int64_t H)
      : bias(0), ci(4 * H), cf(5 * H), co(6 * H), ln_hh(7 * H), ln_c_w(11 * H), ln_c_b(12 * H), ln_ih(13 * H),
        b_ih(17 * H), size(21 * H) {}
};

template <typename T> inline void accumulate(T* acc, int64_t j, int64_t n, const Vec<T>& v) {
  (Vec<T>::loadu(acc + j, n) + v).store(acc + j, n);
}

template <typename T>
std::vector<Tensor> backward_impl(const Tensor& dhs, const Tensor& dh_last, const Tensor& dc_last, const Tensor& gx,
                                  const Tensor& ghs, const Tensor& w_t, const Tensor& c0, const Tensor& cs,
                                  const Params<T>& p, const OptTensor& keep_h, const OptTensor& keep_c,
                                  const OptTensor& rec_mask, double eps) {
  const int64_t T_ = gx.size(0), B = gx.size(1), H = c0.size(1), V = Vec<T>::size();
  const Offsets at_(H);
  Tensor da = buffer(gx.sizes(), gx.options());                          // (T, B, 4H)
  Tensor dghs = p.ln_hh ? buffer(gx.sizes(), gx.options()) : da;         // (T, B, 4H)
  Tensor dh = dh_last.clone(), dc = dc_last.clone();                     // d(h_t), d(c_t), kept-state side
  Tensor dh_direct = at::zeros_like(dh), dc_prev = at::empty_like(dc);
  Tensor partial = at::empty({at::get_num_threads(), at_.size}, gx.options());
  Tensor total = at::zeros({at_.size}, gx.options());
  for (int64_t t = T_ - 1; t >= 0; --t) {
    if (dhs.defined()) dh.add_(dhs[t]);
    const Tensor c_prev = t == 0 ? c0 : cs[t - 1];
    const T *px = gx[t].data_ptr<T>(), *pgh = ghs[t].data_ptr<T>(), *pc = c_prev.data_ptr<T>();
    const T *pdh = dh.data_ptr<T>(), *pdc = dc.data_ptr<T>();
    T *pda = da[t].data_ptr<T>(), *pdgh = dghs[t].data_ptr<T>();
    T *pdh_direct = dh_direct.data_ptr<T>(), *pdc_prev = dc_prev.data_ptr<T>();
    partial.zero_();
    at::parallel_for(0, B, grain(H), [&](int64_t b0, int64_t b1) {
      TORCH_CHECK(at::get_thread_num() < partial.size(0), "rnnkit lstm_scan: unexpected thread number");
      T* acc = partial.data_ptr<T>() + at::get_thread_num() * at_.size;
      // i, f, g, o, c' (row_gates); then, for a layer-norm cell: tanh of its normalized c', d of that
      // normalized c' (w and b applied), d(c') through h; then da when the input part is normalized here
      std::vector<T> scratch(12 * H);
      for (int64_t b = b0; b < b1; ++b) {
        const T *x = px + b * 4 * H, *gh = pgh + b * 4 * H, *c = pc + b * H;
        const T *dh_r = pdh + b * H, *dc_r = pdc + b * H;
        T *tcs = scratch.data() + 5 * H, *dcl = scratch.data() + 6 * H, *dc_hs = scratch.data() + 7 * H;
        // da: d(gate pre-activations); it is dgx itself unless the input part is normalized here
        T* da_r = p.ln_ih ? scratch.data() + 8 * H : pda + b * 4 * H;
        const RowNorms<T> norms = row_gates(x, gh, c, p, H, eps, scratch.data());
        const T *gi = scratch.data(), *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H, *gcn = gi + 4 * H;
        const KeepRow<T> kh = keep_row<T>(keep_h, t, b), kc = keep_row<T>(keep_c, t, b);
        // d(new h) and d(c') from outside the cell's own h path, per chunk
        auto dh_new = [&](int64_t j, int64_t n) {
          const Vec<T> d = load(dh_r, j, n);
          return kh.p ? (Vec<T>(1) - kh.at(j, n)) * d : d;
        };
        if (p.ln_c_w) {  // d(c') through h passes the cell's layer norm: a whole row first
          const std::pair<T, T> ln_c = moments(gcn, H, eps);
          for (int64_t j = 0; j < H; j += V) {
            const int64_t n = std::min(V, H - j);
            const Vec<T> cn = (load(gcn, j, n) - Vec<T>(ln_c.first)) * Vec<T>(ln_c.second);
            const Vec<T> tc = tanh_(cn * load(p.ln_c_w, j, n) + load(p.ln_c_b, j, n));
            const Vec<T> d = dh_new(j, n) * load(go, j, n) * (Vec<T>(1) - tc * tc);  // d(LN(c') w + b)
            tc.store(tcs + j, n);
            d.store(dcl + j, n);
            accumulate(acc, at_.ln_c_b + j, n, d);
          }
          layer_norm_backward(dcl, gcn, p.ln_c_w, ln_c, H, dc_hs, acc + at_.ln_c_w);
        }
        for (int64_t j = 0; j < H; j += V) {
          const int64_t n = std::min(V, H - j);
          const Vec<T> one(1), i = load(gi, j, n), f = load(gf, j, n), g = load(gg, j, n), o = load(go, j, n);
          const Vec<T> c_new = load(gcn, j, n), dhn = dh_new(j, n), d_c = load(dc_r, j, n);
          Vec<T> tc, dc_h;  // tanh of the (normalized) cell, and d(c') through h
          if (p.ln_c_w) {
            tc = load(tcs, j, n);
            dc_h = load(dc_hs, j, n);
          } else {
            tc = tanh_(c_new);
            dc_h = dhn * o * (one - tc * tc);
          }
          const Vec<T> dao = dhn * tc * o * (one - o);
          Vec<T> dcp = (kc.p ? (one - kc.at(j, n)) * d_c : d_c) + dc_h;  // d(c')
          if (p.wco) dcp = dcp + dao * load(p.wco, j, n);
          const Vec<T> cv = load(c, j, n);
          const Vec<T> dai = dcp * g * i * (one - i), daf = dcp * cv * f * (one - f), dag = dcp * i * (one - g * g);
          Vec<T> dcprev = dcp * f + (kc.p ? kc.at(j, n) * d_c : Vec<T>(0));
          if (p.wci) {
            dcprev = dcprev + dai * load(p.wci, j, n) + daf * load(p.wcf, j, n);
            accumulate(acc, at_.ci + j, n, dai * cv);
            accumulate(acc, at_.cf + j, n, daf * cv);
            accumulate(acc, at_.co + j, n, dao * c_new);
          }
          if (p.bias) {
            accumulate(acc, at_.bias + j, n, dai);
            accumulate(acc, at_.bias + H + j, n, daf);
            accumulate(acc, at_.bias + 2 * H + j, n, dag);
            accumulate(acc, at_.bias + 3 * H + j, n, dao);
          }
          dai.store(da_r + j, n);
          daf.store(da_r + H + j, n);
          dag.store(da_r + 2 * H + j, n);
          dao.store(da_r + 3 * H + j, n);
          dcprev.store(pdc_prev + b * H + j, n);
          if (kh.p) (kh.at(j, n) * load(dh_r, j, n)).store(pdh_direct + b * H + j, n);
        }
        if (p.ln_hh) layer_norm_backward(da_r, gh, p.ln_hh, norms.gh, 4 * H, pdgh + b * 4 * H, acc + at_.ln_hh);
        if (p.ln_ih) {
          layer_norm_backward(da_r, x, p.ln_ih, norms.x, 4 * H, pda + b * 4 * H, acc + at_.ln_ih);
          for (int64_t j = 0; p.b_ih && j < 4 * H; j += V) {
            const int64_t n = std::min(V, 4 * H - j);
            accumulate(acc, at_.b_ih + j, n, load(da_r, j, n));
          }
        }
      }
    });
    total.add_(partial.sum(0));
    Tensor dh_in = product(dghs[t], w_t);  // (B, P) = dgh W
    if (rec_mask.has_value()) dh_in.mul_(*rec_mask);
    dh = keep_h.has_value() ? dh_in.add_(dh_direct) : dh_in;
    std::swap(dc, dc_prev);
  }
  return {da, dghs, dh, dc, total};
}

void check_inputs(const Tensor& gx, const Tensor& h0, const Tensor& c0) {
  check(gx.dim() == 3 && gx.is_contiguous(), "gx must be a contiguous (T, B, 4H) tensor");
  check(h0.dim() == 2 && c0.dim() == 2 && h0.size(1) == c0.size(1) && gx.size(2) == 4 * c0.size(1),
        "state must be (B, H) with gx (T, B, 4H) (no projection)");
  check(gx.scalar_type() == at::kFloat || gx.scalar_type() == at::kDouble, "float32 or float64 only");
}

std::vector<Tensor> lstm_scan_forward(const Tensor& gx, const Tensor& w, const Tensor& h0, const Tensor& c0,
                                      const OptTensor& bias_hh, const OptTensor& w_ci, const OptTensor& w_cf,
                                      const OptTensor& w_co, const OptTensor& ln_hh, const OptTensor& ln_c_w,
                                      const OptTensor& ln_c_b, const OptTensor& ln_ih, const OptTensor& b_ih,
                                      const OptTensor& keep_h, const OptTensor& keep_c,
                                      const OptTensor& rec_mask, double eps, bool save) {
  check_inputs(gx, h0, c0);
  return AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "lstm_scan_forward", [&] {
    const Params<scalar_t> p(bias_hh, w_ci, w_cf, w_co, ln_hh, ln_c_w, ln_c_b, ln_ih, b_ih);
    return forward_impl<scalar_t>(gx, w, h0.contiguous(), c0.contiguous(), p, keep_h, keep_c, rec_mask, eps, save);
  });
}

std::vector<Tensor> lstm_scan_backward(const OptTensor& dhs, const Tensor& dh_last, const Tensor& dc_last,
                                       const Tensor& gx, const Tensor& ghs, const Tensor& w_t, const Tensor& c0,
                                       const Tensor& cs, const OptTensor& bias_hh, const OptTensor& w_ci,
                                       const OptTensor& w_cf, const OptTensor& w_co, const OptTensor& ln_hh,
                                       const OptTensor& ln_c_w, const OptTensor& ln_c_b, const OptTensor& ln_ih,
                                       const OptTensor& b_ih, const OptTensor& keep_h,
                                       const OptTensor& keep_c, const OptTensor& rec_mask, double eps) {
  check_inputs(gx, dh_last, c0);
  return AT_DISPATCH_FLOATING_TYPES(gx.scalar_type(), "lstm_scan_backward", [&] {
    const Params<scalar_t> p(bias_hh, w_ci, w_cf, w_co, ln_hh, ln_c_w, ln_c_b, ln_ih, b_ih);
    return backward_impl<scalar_t>(dhs.has_value() ? dhs->contiguous() : Tensor(), dh_last.contiguous(),
                                   dc_last.contiguous(), gx, ghs, w_t, c0.contiguous(), cs, p, keep_h, keep_c,
                                   rec_mask, eps);
  });
}

}  // namespace

TORCH_LIBRARY(rnnkit, m) {
  m.def("lstm_scan_forward(Tensor gx, Tensor w, Tensor h0, Tensor c0, Tensor? bias_hh, Tensor? w_ci, Tensor? w_cf, "
        "Tensor? w_co, Tensor? ln_hh, Tensor? ln_c_w, Tensor? ln_c_b, Tensor? ln_ih, Tensor? b_ih, Tensor? keep_h, "
        "Tensor? keep_c, Tensor? rec_mask, float eps, bool save) -> Tensor[]",
        &lstm_scan_forward);
  m.def("lstm_scan_backward(Tensor? dhs, Tensor dh_last, Tensor dc_last, Tensor gx, Tensor ghs, Tensor w_t, "
        "Tensor c0, Tensor cs, Tensor? bias_hh, Tensor? w_ci, Tensor? w_cf, Tensor? w_co, Tensor? ln_hh, "
        "Tensor? ln_c_w, Tensor? ln_c_b, Tensor? ln_ih, Tensor? b_ih, Tensor? keep_h, Tensor? keep_c, "
        "Tensor? rec_mask, float eps) -> Tensor[]",
        &lstm_scan_backward);
  m.def("kept_free_bytes() -> int", &kept_free_bytes);
}
