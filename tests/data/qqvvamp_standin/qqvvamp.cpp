// Stand-in implementation of qqvvamp<numtype> for the activeamp test suite (see qqvvamp.h).
//
// Known analytic answer, with x = t/s, ya = ma2/s, yb = mb2/s, c = 0 (IRschemeQt) or 1 (IRschemeCatani):
//   A[i][j][l][0] = (i + j/2 + l (Nf + c)/4) (1 + x^2 + ya - 2 yb) / (1 + l)       i = 1..10
//   A[i][j][l][1] = l (i + j/2 + l (Nf + c)/4) (x - ya yb)
//   E[i][j][l][0] = -(i + 1/10 + j/2 + l (Nf + c)/4) (x - ya + 2 yb) / (1 + l)     i = 1..9
//   E[i][j][l][1] = l (i + 1/10) (ya - x yb)
// Every real part also gets d = ((s + K t) - K t - s) / s, which is zero in exact arithmetic; K = 1e12 where
// cos(theta*) = (2t + s - ma2 - mb2) / sqrt(lambda(s, ma2, mb2)) > 0.8 and K = 0 elsewhere. In double
// precision d is a rounding error of relative size ~1e-6 there (a cancellation, like real two-loop amplitudes
// near the edges of phase space); in quad precision it is ~1e-22. Unphysical input (s <= 0, ma2 <= 0,
// mb2 <= 0, lambda <= 0) throws std::domain_error.

#include "qqvvamp.h"

#include <cmath>
#include <stdexcept>

namespace {
inline double root(double x) { return std::sqrt(x); }
inline quadtype root(quadtype x) { return sqrtq(x); }
}  // namespace

double todouble(const double& x) { return x; }
double todouble(const quadtype& x) { return static_cast<double>(x); }

template <class numtype>
qqvvamp<numtype>::qqvvamp(int nf, IRscheme scheme) : Nf(nf), ir(scheme), r(new numtype[16]), compute_gpls(true) {
  for (int i = 0; i <= nAcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++) A[i][j][l][0] = A[i][j][l][1] = 0;
  for (int i = 0; i <= nEcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++) E[i][j][l][0] = E[i][j][l][1] = 0;
}

template <class numtype>
qqvvamp<numtype>::~qqvvamp() {
  delete[] r;
}

template <class numtype>
void qqvvamp<numtype>::compute(numtype s, numtype t, numtype ma2, numtype mb2) {
  if (!(s > 0) || !(ma2 > 0) || !(mb2 > 0)) throw std::domain_error("qqvvamp stand-in: need s, ma2, mb2 > 0");
  numtype lambda = s * s + ma2 * ma2 + mb2 * mb2 - 2 * s * ma2 - 2 * s * mb2 - 2 * ma2 * mb2;
  if (!(lambda > 0)) throw std::domain_error("qqvvamp stand-in: below threshold (lambda <= 0)");
  numtype cos_theta = (2 * t + s - ma2 - mb2) / root(lambda);
  numtype big = cos_theta > numtype(0.8) ? numtype(1e12) : numtype(0);
  numtype d = ((s + big * t) - big * t - s) / s;
  numtype x = t / s, ya = ma2 / s, yb = mb2 / s;
  numtype c = ir == IRschemeCatani ? 1 : 0;
  for (int i = 1; i <= nAcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++) {
        numtype base = i + n(j, 2) + l * (Nf + c) / 4;
        A[i][j][l][0] = base * (1 + x * x + ya - 2 * yb) / (1 + l) + d;
        A[i][j][l][1] = l * base * (x - ya * yb);
      }
  for (int i = 1; i <= nEcoeff; i++)
    for (int j = 0; j < ntype; j++)
      for (int l = 0; l < nloop; l++) {
        numtype base = i + n(1, 10) + n(j, 2) + l * (Nf + c) / 4;
        E[i][j][l][0] = -base * (x - ya + 2 * yb) / (1 + l) + d;
        E[i][j][l][1] = l * (i + n(1, 10)) * (ya - x * yb);
      }
}

template class qqvvamp<double>;
template class qqvvamp<quadtype>;
