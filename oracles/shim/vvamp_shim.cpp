// vvamp_shim.cpp -- C entry points over VVAMP's qqvvamp<numtype> (q qbar' -> V1 V2 form factors at tree,
// one and two loops; Gehrmann, von Manteuffel, Tancredi, arXiv:1503.04812) for activeamp's `vvamp` oracle,
// which loads the compiled shim with ctypes. VVAMP itself is C++ with class templates and no C entry points.
//
// Build against your VVAMP installation (headers qqvvamp.h / qqvvamp.xh under $VVAMP/include, library
// libqqvvamp under $VVAMP/lib), one line:
//
//   c++ -O2 -std=c++11 -shared -fPIC vvamp_shim.cpp -I$VVAMP/include -L$VVAMP/lib -Wl,-rpath,$VVAMP/lib -lqqvvamp -lginac -lcln -lquadmath -o libvvamp_shim.so
//
// (-lginac -lcln may be dropped when libqqvvamp.so already links them.)
// (`python -c "import oracles.vvamp as v; print(v.shim_build_command('$VVAMP'))"` prints it with the path of
// this file filled in; `oracles.vvamp.build_shim(...)` runs it.)
//
// Interface (all arrays C-contiguous, row-major):
//   int  vvamp_shim_abi_version(void)                               -> VVAMP_SHIM_ABI (bumped on any change)
//   void vvamp_shim_layout(int* n_a, int* n_e, int* n_type, int* n_loop, int* n_reim)
//   int  vvamp_shim_has_quad(void)                                  -> 1 if built with quad precision
//   int  vvamp_qq_compute(int n, const double* kin, int nf, int ir, int precision, double maxrel,
//                         double* a_out, double* e_out, int* used, double* relerr, char* err, int errlen)
//     kin     (n, 4): s, t, ma2, mb2 in GeV^2 per point
//     ir      0 = IRschemeQt, 1 = IRschemeCatani
//     precision 0 = double, 1 = quad (qqvvamp<quadtype>), 2 = auto: double, checked, quad where needed
//     maxrel  auto mode: recompute in quad when the estimated relative error of a coefficient exceeds this
//     a_out   (n, 10, 4, 3, 2): A[1..10][type][loop][re/im]       e_out (n, 9, 4, 3, 2): E[1..9][...] (or NULL)
//     used    (n,): 0 double, 1 quad, -1 failed (VVAMP threw; outputs NaN)     (or NULL)
//     relerr  (n,): auto mode's error estimate of the double result; NaN otherwise (or NULL)
//     returns the number of failed points (>= 0), or -1 on bad arguments (message in err)
//
// Auto mode estimates the rounding error of the double result by evaluating the same physical point with all
// invariants scaled by 1/L and L (L = 1.1, not a power of two, so the rounding pattern changes completely).
// compute() takes no renormalisation-scale argument, so each coefficient is taken to be homogeneous in
// (s, t, ma2, mb2): c(L x) = L^k c(x) for some k, hence c(L x) c(x / L) = c(x)^2 exactly, whatever k. The estimate is
// max over coefficients of |c(L x) c(x / L) - c(x)^2| / (2 max(|c(x)|, 1e-6 max|c|)^2), the floor ignoring
// coefficients far below the largest of their array. (A coefficient that were not homogeneous would show a
// large estimate and be recomputed in quad: slower, never wrong.)
//
// Evaluator instances (one per Nf, IR scheme and precision) are created once per process and reused; calls
// are serialised per instance, so the shim may be called from several threads.

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "qqvvamp.h"

#define VVAMP_SHIM_ABI 1

namespace {

const int kPerType = nloop * nreim;
const int kPerCoeff = ntype * kPerType;
const int kA = nAcoeff * kPerCoeff;
const int kE = nEcoeff * kPerCoeff;

template <class T>
struct Evaluator {
  explicit Evaluator(int nf, IRscheme ir) : amp(new qqvvamp<T>(nf, ir)) {}
  std::unique_ptr<qqvvamp<T> > amp;
  std::mutex mutex;
};

template <class T>
Evaluator<T>& evaluator(int nf, int ir) {
  static std::map<std::pair<int, int>, std::unique_ptr<Evaluator<T> > > cache;
  static std::mutex cache_mutex;
  std::lock_guard<std::mutex> lock(cache_mutex);
  std::unique_ptr<Evaluator<T> >& slot = cache[std::make_pair(nf, ir)];
  if (!slot) slot.reset(new Evaluator<T>(nf, static_cast<IRscheme>(ir)));
  return *slot;
}

// Evaluates one point with numeric type T and writes the coefficients as doubles.
template <class T>
void evaluate(int nf, int ir, const double* k, double* a, double* e) {
  Evaluator<T>& ev = evaluator<T>(nf, ir);
  std::lock_guard<std::mutex> lock(ev.mutex);
  qqvvamp<T>& amp = *ev.amp;
  amp.compute(static_cast<T>(k[0]), static_cast<T>(k[1]), static_cast<T>(k[2]), static_cast<T>(k[3]));
  for (int i = 0; i < nAcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++)
        for (int m = 0; m < nreim; m++)
          a[i * kPerCoeff + j * kPerType + l * nreim + m] = static_cast<double>(amp.A[i + 1][j][l][m]);
  for (int i = 0; i < nEcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++)
        for (int m = 0; m < nreim; m++)
          e[i * kPerCoeff + j * kPerType + l * nreim + m] = static_cast<double>(amp.E[i + 1][j][l][m]);
}

double noise(const double* lo, const double* mid, const double* hi, int count) {
  double largest = 0.0, worst = 0.0;
  for (int i = 0; i < count; i++) largest = std::max(largest, std::fabs(mid[i]));
  if (largest == 0.0) return 0.0;
  for (int i = 0; i < count; i++) {
    double scale = std::max(std::fabs(mid[i]), 1e-6 * largest);
    double deviation = std::fabs(hi[i] * lo[i] - mid[i] * mid[i]) / (2.0 * scale * scale);
    if (!(deviation <= worst)) worst = deviation;  // NaN propagates
  }
  return worst;
}

void fail(char* err, int errlen, const char* message) {
  if (err != NULL && errlen > 0) {
    std::strncpy(err, message, static_cast<size_t>(errlen) - 1);
    err[errlen - 1] = '\0';
  }
}

}  // namespace

extern "C" {

int vvamp_shim_abi_version(void) { return VVAMP_SHIM_ABI; }

void vvamp_shim_layout(int* n_a, int* n_e, int* n_type, int* n_loop, int* n_reim) {
  *n_a = nAcoeff;
  *n_e = nEcoeff;
  *n_type = ntype;
  *n_loop = nloop;
  *n_reim = nreim;
}

int vvamp_shim_has_quad(void) {
#ifdef QUAD_PRECISION
  return 1;
#else
  return 0;
#endif
}

int vvamp_qq_compute(int n, const double* kin, int nf, int ir, int precision, double maxrel, double* a_out,
                     double* e_out, int* used, double* relerr, char* err, int errlen) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (n < 0 || kin == NULL || a_out == NULL) {
    fail(err, errlen, "vvamp_qq_compute: n < 0 or a NULL input/output array");
    return -1;
  }
  if (ir != 0 && ir != 1) {
    fail(err, errlen, "vvamp_qq_compute: ir must be 0 (IRschemeQt) or 1 (IRschemeCatani)");
    return -1;
  }
  if (precision < 0 || precision > 2) {
    fail(err, errlen, "vvamp_qq_compute: precision must be 0 (double), 1 (quad) or 2 (auto)");
    return -1;
  }
#ifndef QUAD_PRECISION
  if (precision != 0) {
    fail(err, errlen, "vvamp_qq_compute: VVAMP was built without QUAD_PRECISION; use precision 0 (double)");
    return -1;
  }
#endif
  double e_scratch[kE];
  double lo_a[kA], lo_e[kE], hi_a[kA], hi_e[kE];
  int failed = 0;
  for (int p = 0; p < n; p++) {
    const double* k = kin + 4 * p;
    double* a = a_out + static_cast<size_t>(p) * kA;
    double* e = e_out != NULL ? e_out + static_cast<size_t>(p) * kE : e_scratch;
    int how = precision == 1 ? 1 : 0;
    double estimate = nan;
    try {
      if (precision == 1) {
#ifdef QUAD_PRECISION
        evaluate<quadtype>(nf, ir, k, a, e);
#endif
      } else {
        evaluate<double>(nf, ir, k, a, e);
        if (precision == 2) {
          const double scale = 1.1;
          double klo[4], khi[4];
          for (int c = 0; c < 4; c++) {
            klo[c] = k[c] / scale;
            khi[c] = k[c] * scale;
          }
          evaluate<double>(nf, ir, klo, lo_a, lo_e);
          evaluate<double>(nf, ir, khi, hi_a, hi_e);
          estimate = std::max(noise(lo_a, a, hi_a, kA), noise(lo_e, e, hi_e, kE));
          if (!(estimate <= maxrel)) {
#ifdef QUAD_PRECISION
            evaluate<quadtype>(nf, ir, k, a, e);
            how = 1;
#endif
          }
        }
      }
    } catch (const std::exception& exc) {
      if (failed == 0) fail(err, errlen, exc.what());
      how = -1;
    } catch (...) {
      if (failed == 0) fail(err, errlen, "VVAMP threw a non-standard exception");
      how = -1;
    }
    if (how < 0) {
      failed++;
      for (int i = 0; i < kA; i++) a[i] = nan;
      if (e_out != NULL)
        for (int i = 0; i < kE; i++) e[i] = nan;
    }
    if (used != NULL) used[p] = how;
    if (relerr != NULL) relerr[p] = estimate;
  }
  return failed;
}

}  // extern "C"
