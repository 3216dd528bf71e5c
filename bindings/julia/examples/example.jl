# Forward pass of a ReLU network on points of the unit circle (the Julia twin of
# bindings/c/example.c). Run from the repository root after `cargo build --release`:
#   julia bindings/julia/examples/example.jl
pushfirst!(LOAD_PATH, joinpath(@__DIR__, ".."))
using NTK

net = Network([2, 256, 256, 1]; activation = :relu, beta = 0.1, seed = 2018)
println("ntk ", NTK.version(), ": ", net, ", L = ", depth(net), ", P = ", num_params(net))
γ = [2π * i / 8 for i in 0:7]
X = [cos.(γ) sin.(γ)]                     # 8 × 2: points are rows
f = forward(net, X)
for (g, v) in zip(γ, f)
    println("  gamma = ", round(g, digits = 3), "  f = ", v)
end
θ = params(net)
println("theta[1:3] = ", θ[1:3])
try
    forward!(zeros(7, 1), net, X)         # wrong output shape
catch e
    println("error as expected: ", sprint(showerror, e))
end
close(net)
