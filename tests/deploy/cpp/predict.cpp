// Minimal C++ caller of a surrogate exported by `activeamp export-model --format aoti` (an AOTInductor package).
//
//   predict PACKAGE.pt2 POINTS.f64
//
// POINTS.f64: raw little-endian float64 momenta (N, n, 4) in GeV, (E, px, py, pz) per particle, incoming first,
// in the order of the process (export.json: "input"); n is read from the package metadata ("n_particles").
// Prints one line per point, "<mean> <sigma_tot>" (%.17g, amplitude units: metadata "amplitude_units"),
// after a header line starting with '#'.
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PACKAGE.pt2 POINTS.f64\n", argv[0]);
    return 2;
  }
  try {
    torch::inductor::AOTIModelPackageLoader loader(argv[1]);
    auto metadata = loader.get_metadata();
    const int64_t n_particles = std::stoll(metadata.at("n_particles"));
    const int64_t point_bytes = n_particles * 4 * static_cast<int64_t>(sizeof(double));

    std::ifstream in(argv[2], std::ios::binary | std::ios::ate);
    if (!in) {
      std::fprintf(stderr, "%s: cannot open\n", argv[2]);
      return 2;
    }
    const int64_t bytes = static_cast<int64_t>(in.tellg());
    if (bytes % point_bytes != 0) {
      std::fprintf(stderr, "%s: %lld bytes is not a whole number of points of %lld particles\n", argv[2],
                   static_cast<long long>(bytes), static_cast<long long>(n_particles));
      return 2;
    }
    const int64_t n = bytes / point_bytes;
    std::vector<double> data(static_cast<size_t>(n * n_particles * 4));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(data.data()), bytes);

    at::Tensor momenta = at::from_blob(data.data(), {n, n_particles, 4}, at::kDouble);
    std::vector<at::Tensor> outputs = loader.run({momenta});
    at::Tensor mean = outputs.at(0).contiguous();
    at::Tensor sigma_tot = outputs.at(1).contiguous();
    const double* m = mean.data_ptr<double>();
    const double* s = sigma_tot.data_ptr<double>();
    std::printf("# %s (%s), %lld points: mean sigma_tot [%s]\n", metadata.at("process").c_str(),
                metadata.at("description").c_str(), static_cast<long long>(n),
                metadata.at("amplitude_units").c_str());
    for (int64_t i = 0; i < n; ++i) std::printf("%.17g %.17g\n", m[i], s[i]);
  } catch (const std::exception& err) {
    std::fprintf(stderr, "error: %s\n", err.what());
    return 1;
  }
  return 0;
}
