# Tests of the large-N kernel regression binding (bindings/julia/src/solve.jl), included from
# runtests.jl. References: the dense solve (K + λI) \ Y with K from kernel_limit /
# kernel_empirical (LAPACK through Julia's LinearAlgebra), and K(X*, X) α from kernel_limit.
using LinearAlgebra: I, Symmetric, tr, norm

sphere_points(n, d, s) = (X = [sin(1.3 * (i * d + j) + s) + 0.1 * cos(i + s) for i in 1:n, j in 1:d];
                          X ./ sqrt.(sum(abs2, X; dims = 2)))

@testset "kernel regression (KernelSolver)" begin
    n, m, d = 300, 41, 3
    X, Xt = sphere_points(n, d, 0.0), sphere_points(m, d, 1.0)
    net = Network([d, 8, 8, 1]; activation = :relu, beta = 0.1, seed = 1)
    Y = hcat(sin.(3 .* X[:, 1]), X[:, 2] .* X[:, 3])
    for (kernel, Kd) in ((:ntk, kernel_limit(net, X)), (:nngp, kernel_limit(net, X; kernel = :nngp)))
        s = KernelSolver(net, X; kernel = kernel, rank = 30)
        info = solver_info(s)
        @test info.num_points == n && info.rank == 30 && info.cached_rows == 0
        @test isapprox(info.trace, tr(Kd); rtol = 1e-12)
        λ = 1e-4 * info.trace / n
        want = (Symmetric(Kd) + λ * I) \ Y
        r = kernel_regression(s, Y; lambda = λ, rtol = 1e-12)
        @test r.residual <= 1e-12 && r.iterations > 0
        @test norm(r.alpha - want) / norm(want) < 1e-9
        # a vector target and a transposed (row-major) one give the same columns
        @test kernel_regression(s, Y[:, 1]; lambda = λ, rtol = 1e-12).alpha == r.alpha[:, 1]
        Yt = copy(transpose(Y))
        @test kernel_regression(s, transpose(Yt); lambda = λ, rtol = 1e-12).alpha == r.alpha
        # predictions
        P = kernel_predict(s, Xt, r.alpha)
        Kx = kernel_limit(net, Xt, X; kernel = kernel)
        @test norm(P - Kx * r.alpha) / norm(Kx * r.alpha) < 1e-13
        @test kernel_predict(s, Xt, r.alpha[:, 2]) == P[:, 2]
        close(s)
    end
    # the row cache gives the same bits
    s0 = KernelSolver(net, X; rank = 20)
    s1 = KernelSolver(net, X; rank = 20, cache_bytes = 8 * n * n)
    @test solver_info(s1).cached_rows == n
    λ = 1e-3
    @test kernel_regression(s0, Y; lambda = λ).alpha == kernel_regression(s1, Y; lambda = λ).alpha
    # empirical NTK (trace mode) through its features
    enet = Network([d, 16, 16, 2]; activation = :tanh, beta = 0.2, seed = 3)
    Ke = kernel_empirical(enet, X)
    se = KernelSolver(enet, X; kernel = :empirical, rank = 20)
    λe = 1e-3 * tr(Ke) / n
    re = kernel_regression(se, Y; lambda = λe, rtol = 1e-12)
    @test norm(re.alpha - (Symmetric(Ke) + λe * I) \ Y) / norm(re.alpha) < 1e-9
    # progress: (iteration, max_iterations), solver_progress inside; cancel
    seen = Tuple{Int,Int,Float64}[]
    kernel_regression(s0, Y; lambda = λ, max_iterations = 500,
                      progress = (d, t) -> (push!(seen, (d, t, solver_progress(s0).residual)); false))
    @test !isempty(seen) && all(t == 500 for (_, t, _) in seen)
    @test issorted([d for (d, _, _) in seen])
    @test seen[end][3] <= 1e-10
    e = err(() -> kernel_regression(s0, Y; lambda = λ, progress = (d, t) -> d >= 2))
    @test e isa NTKError && e.status == 5
    # errors
    @test err(() -> KernelSolver(net, X; kernel = :bogus)) isa ArgumentError
    e = err(() -> KernelSolver(net, X[:, 1:2]))
    @test e isa NTKError && e.status == 2 && occursin("n_0", e.msg)
    e = err(() -> kernel_regression(s0, Y; lambda = -1.0))
    @test e isa NTKError && e.status == 2 && occursin("lambda", e.msg)
    Yb = copy(Y); Yb[7, 2] = NaN
    e = err(() -> kernel_regression(s0, Yb))
    @test e isa NTKError && e.status == 3 && occursin("y[6, 1]", e.msg)
    e = err(() -> kernel_regression(s0, Y; lambda = λ, rtol = 1e-14, max_iterations = 2))
    @test e isa NTKError && e.status == 6 && occursin("max_iterations = 2", e.msg)
    e = err(() -> kernel_regression(s0, Y[1:end-1, :]))
    @test e isa NTKError && e.status == 2
    e = err(() -> kernel_predict(s0, Xt[:, 1:2], Y))
    @test e isa NTKError && e.status == 2
    close(s0)
    @test err(() -> kernel_regression(s0, Y)) isa ArgumentError
    @test occursin("closed", sprint(show, s0))
end
