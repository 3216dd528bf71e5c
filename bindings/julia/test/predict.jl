# Tests of the predictive law (bindings/julia/src/predict.jl), included from runtests.jl.
# Reference: the closed form evaluated here with LinearAlgebra's dense `exp` (Padé scaling and
# squaring) and `inv`, independent of the library's eigendecomposition.
using LinearAlgebra: Symmetric, I, tr, diag, eigvals

@testset "predictive law" begin
    γ = 2π .* (0:9) ./ 10
    X = [cos.(γ) sin.(γ)]
    Xtr, Xte = X[1:2:end, :], X[2:2:6, :]
    N, M = size(Xtr, 1), size(Xte, 1)
    net = Network([2, 64, 64, 1]; activation = :relu, beta = 0.1, seed = 1)
    ktr = kernel_limits(net, Xtr)
    ktx = kernel_limits(net, Xte, Xtr)
    Stt = kernel_limit(net, Xte; kernel = :nngp)
    Y = reshape(sin.(3 .* γ[1:2:end]), :, 1)

    function reference(Θ, Θtx, Σ, Σtx, Σtt, t; ridge = 0.0)
        K = Θ + ridge * I
        Ψ = isinf(t) ? inv(K) : inv(K) * (I - exp(-K * t / N))
        A = Θtx * Ψ
        cross = A * Σtx'
        return (A * Y, Σtt + A * Σ * A' - cross - cross')
    end

    p = PredictiveLaw(ktr.ntk, Y; nngp_train = ktr.nngp)
    ts = PredictiveTestSet(p, ktx.ntk; nngp_test_train = ktx.nngp, nngp_test_test = Stt)
    for t in (0.5, 7.0, 300.0, Inf)
        g = ensemble_law(ts, t)
        μ, C = reference(ktr.ntk, ktx.ntk, ktr.nngp, ktx.nngp, Stt, t)
        @test maximum(abs.(g.mean .- μ)) <= 1e-10 * maximum(abs.(μ))
        @test maximum(abs.(g.cov .- C)) <= 1e-10 * maximum(abs.(Stt))
        @test g.cov == g.cov'
        @test minimum(eigvals(Symmetric(g.cov))) >= -1e-12 * maximum(diag(Stt))
        v = ensemble_law(ts, t; cov = :diagonal).cov
        @test maximum(abs.(v .- diag(g.cov))) <= 1e-14 * maximum(diag(Stt))
    end
    g0 = ensemble_law(ts, 0.0)
    @test g0.cov == Stt && all(g0.mean .== 0)

    # NNGP law at t = ∞: the GP posterior; relative ridge.
    pn = PredictiveLaw(ktr.nngp, Y; law = :nngp, ridge = 1e-3, ridge_relative = true)
    tn = PredictiveTestSet(pn, ktx.nngp; nngp_test_test = diag(Stt))
    gn = ensemble_law(tn, Inf)
    K = ktr.nngp + 1e-3 * tr(ktr.nngp) / N * I
    @test maximum(abs.(gn.mean .- ktx.nngp * (K \ Y))) <= 1e-10 * maximum(abs.(gn.mean))
    @test maximum(abs.(gn.cov .- diag(Stt - ktx.nngp * (K \ ktx.nngp')))) <= 1e-10 * maximum(diag(Stt))
    @test tn.cov == :diagonal
    @test_throws NTKError ensemble_law(tn, 1.0; cov = :full)

    # From points in one call, same law as the handles.
    gp = ensemble_law(net, Xtr, Y, Xte, 7.0)
    gh = ensemble_law(ts, 7.0)
    @test maximum(abs.(gp.mean .- gh.mean)) <= 1e-13 * maximum(abs.(gh.mean))
    @test maximum(abs.(gp.cov .- gh.cov)) <= 1e-13 * maximum(abs.(gh.cov))
    gv = ensemble_law(net, Xtr, Y, Xte, Inf; cov = :diagonal)
    @test length(gv.cov) == M && all(gv.cov .> 0)

    # Errors (NTKError naming the argument) and progress/cancel.
    e = err(() -> ensemble_law(ts, -1.0))
    @test e isa NTKError && occursin("t = -1", e.msg)
    e = err(() -> ensemble_law(ts, NaN))
    @test e isa NTKError && e.name == "NTK_STATUS_NON_FINITE"
    e = err(() -> PredictiveLaw(ktr.ntk, Y; ridge = -1.0))
    @test e isa NTKError && occursin("ridge", e.msg)
    bad = copy(ktr.ntk); bad[1, 2] = bad[2, 1] = 10.0
    e = err(() -> PredictiveLaw(bad, Y))
    @test e isa NTKError && e.name == "NTK_STATUS_NUMERICAL"
    e = err(() -> PredictiveTestSet(p, ktx.ntk[:, 1:end-1]))
    @test e isa NTKError && occursin("kernel_test_train", e.msg)
    e = err(() -> PredictiveLaw(ktr.ntk, Y; law = :bogus))
    @test e isa ArgumentError
    calls = Ref(0)
    e = err(() -> ensemble_law(ts, 1.0; progress = (d, t) -> (calls[] += 1; true)))
    @test e isa NTKError && e.name == "NTK_STATUS_CANCELLED" && calls[] == 1
    close(ts); close(p)
    @test_throws ArgumentError ensemble_law(ts, 1.0)
end
