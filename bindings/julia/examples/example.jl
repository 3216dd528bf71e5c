# A ReLU network on points of the unit circle: forward pass, limit and empirical NTK, kernel
# flow and gradient-descent training (the Julia twin of bindings/c/example.c). Run from the repository root after `cargo build --release`:
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
Θ∞ = kernel_limit(net, X)                 # infinite-width NTK of this architecture
K = kernel_empirical(net, X)              # the finite-width one at initialization
for j in 1:8
    println("  Theta_inf[1,$j] = ", Θ∞[1, j], "   empirical / limit = ", round(K[1, j] / Θ∞[1, j], digits = 3))
end
println("condition number of the empirical NTK: ", kernel_condition(K).condition)
y = cos.(3 .* γ)
flow = Flow(K, y, vec(f))                 # kernel gradient flow of the MSE
set_time!(flow, 10.0)
println("kernel flow at t = ", time(flow), ": loss ", flow_loss(flow))
history = train!(copy(net), X, reshape(y, :, 1); learning_rate = 1.0, steps = 20)
println("gradient descent: loss ", history[1], " -> ", history[end])
close(flow)
θ = network_params(net)
println("theta[1:3] = ", θ[1:3])
try
    forward!(zeros(7, 1), net, X)         # wrong output shape
catch e
    println("error as expected: ", sprint(showerror, e))
end
close(net)
