// Stand-in for VVAMP's qqvvamp.h (Gehrmann, von Manteuffel, Tancredi, arXiv:1503.04812), written for the
// activeamp test suite. It declares the same class interface as the real header -- the IRscheme enum, the
// array-size constants, the class template qqvvamp<numtype> with qqvvamp(int Nf, IRscheme), compute(s, t,
// ma2, mb2) and the coefficient arrays A[..][type][loop][re/im] and E[..][type][loop][re/im] -- so that
// oracles/shim/vvamp_shim.cpp compiles and links against it exactly as against the real library. The
// numbers are a known analytic function (see qqvvamp.cpp), not physics. No GiNaC/CLN needed.

#ifndef QQVVAMP_H
#define QQVVAMP_H

#include <stdint.h>

#define QUAD_PRECISION
#define DOUBLE_PRECISION

extern "C" {
#include <quadmath.h>
}
typedef __float128 quadtype;

namespace GiNaC {
class ex;
class numeric;
}  // namespace GiNaC

// IR subtraction schemes
enum IRscheme { IRschemeQt = 0, IRschemeCatani };

const int nAcoeff = 10;  // A coefficients 1..10
const int nEcoeff = 9;   // E coefficients 1..9
const int ntype = 4;     // coupling type {0=A, 1=B, 2=C, 3=F}
const int nloop = 3;     // {0=tree, 1=one-loop, 2=two-loop}
const int nreim = 2;     // {0=Re, 1=Im}

typedef int64_t longint;

template <class numtype>
class qqvvamp {
 public:
  qqvvamp(int Nf, IRscheme ir);
  ~qqvvamp();

  void compute(numtype s, numtype t, numtype ma2, numtype mb2);

  int Nf;
  IRscheme ir;

  numtype A[nAcoeff + 1][ntype][nloop][nreim];  // first index 1..10
  numtype E[nEcoeff + 1][ntype][nloop][nreim];  // first index 1..9

  numtype* r;
  bool compute_gpls;

  static inline numtype n(longint a);
  static inline numtype n(longint a, longint b);
  static numtype n(const GiNaC::ex& a);
};

double todouble(const quadtype&);
template <>
inline quadtype qqvvamp<quadtype>::n(longint a) {
  return static_cast<quadtype>(a);
}
template <>
inline quadtype qqvvamp<quadtype>::n(longint a, longint b) {
  return a / static_cast<quadtype>(b);
}
double todouble(const double& x);
template <>
inline double qqvvamp<double>::n(longint a) {
  return static_cast<double>(a);
}
template <>
inline double qqvvamp<double>::n(longint a, longint b) {
  return a / static_cast<double>(b);
}

#endif  // QQVVAMP_H
