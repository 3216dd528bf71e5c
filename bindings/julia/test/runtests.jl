# Tests of the Julia binding. Run from anywhere, also from a copy of this package directory:
#   julia bindings/julia/test/runtests.jl     (libntk from NTK_LIB=/path/libntk.so, the
#                                              NTK.set_library! setting or the system path)
# Reference numbers come from an independent plain-loop forward pass written here from the
# parameters, from the C example's printed output, and from the row-major/column-major identity.
pushfirst!(LOAD_PATH, joinpath(@__DIR__, ".."))
using NTK
using Test
using LinearAlgebra: transpose, I, Symmetric, eigvals, kron

"Forward pass with plain loops from θ (W^(l) row-major n_{l+1}×n_l, then b^(l))."
function reference_forward(widths, θ, β, σ, X)
    N = size(X, 1)
    out = zeros(N, widths[end])
    for i in 1:N
        h = Float64[X[i, k] for k in 1:widths[1]]
        off = 0
        for l in 1:length(widths)-1
            nin, nout = widths[l], widths[l+1]
            W = θ[off+1:off+nout*nin]
            b = θ[off+nout*nin+1:off+nout*nin+nout]
            off += nout * (nin + 1)
            z = [sum(W[(j-1)*nin+k] * h[k] for k in 1:nin) / sqrt(nin) + β * b[j] for j in 1:nout]
            h = l < length(widths) - 1 ? σ.(z) : z
        end
        out[i, :] = h
    end
    return out
end

relerr(a, b) = maximum(abs.(a .- b) ./ max.(1, abs.(a), abs.(b)))
err(f) = try
    f(); nothing
catch e
    e
end

"Central finite differences of the outputs w.r.t. each parameter: (N n_L) × P."
function fd_jacobian(net, X; h = 1e-5)
    θ = network_params(net)
    tmp = copy(net)
    J = zeros(size(X, 1) * output_dim(net), length(θ))
    for p in eachindex(θ)
        t = copy(θ); t[p] += h
        fp = forward(set_params!(tmp, t), X)
        t[p] -= 2h
        fm = forward(set_params!(tmp, t), X)
        J[:, p] = vec(permutedims((fp .- fm) ./ 2h))     # row (i-1) n_L + a
    end
    close(tmp)
    return J
end

"Trace-mode kernel from a full one: (1/k) Σ_a full[(i-1)k+a, (j-1)k+a]."
trace_of(full, k) = [sum(full[(i-1)*k+a, (j-1)*k+a] for a in 1:k) / k
                     for i in 1:size(full, 1)÷k, j in 1:size(full, 2)÷k]

"""
The `NAME[i,j] = VALUE` lines (VALUE printed with %.17g) of bindings/c/example.c, as committed
in test/c_example_output.txt (tests/packaging.rs in the repository checks that this copy is the
example's current output), so that this suite needs no repository paths.
"""
function c_example_numbers()
    out = read(joinpath(@__DIR__, "c_example_output.txt"), String)
    nums = Dict{String,Float64}()
    for m in eachmatch(r"(\w+\[\d+,\d+\]) = (\S+)", out)
        nums[m[1]] = parse(Float64, m[2])
    end
    return nums
end
rss_kib() = parse(Int, split(read("/proc/self/statm", String))[2]) * 4

@testset "NTK.jl" begin
    @testset "library" begin
        project = read(joinpath(@__DIR__, "..", "Project.toml"), String)
        v = match(r"\nversion = \"([^\"]+)\"", project)[1]
        @test NTK.version() == VersionNumber(v)
        @test NTK.libntk == "libntk.so.$(NTK.version().major)"
        if haskey(ENV, "NTK_LIB")
            @test NTK.library_path() == abspath(ENV["NTK_LIB"])
        else
            @test isfile(NTK.library_path())
        end
        println("NTK.jl loaded ", NTK.library_path())
        # the docstrings are attached to the types and functions (?Network)
        @test occursin("NTK parameterization", string(@doc Network))
        @test occursin("kernel gradient flow", lowercase(string(@doc Flow)))
        # no exported name shadows Base or a common generic
        for name in names(NTK)
            @test !(name in (:params, :predict, :loss, :jacobian, :step!, :fit!, :train))
            name === :NTK || @test !isdefined(Base, name)
        end
        @test NTK.status_name(0) == "NTK_STATUS_OK"
        @test NTK.status_name(3) == "NTK_STATUS_NON_FINITE"
        @test NTK.status_name(99) == "NTK_STATUS_UNKNOWN"
        set_num_threads(2)
        @test num_threads() == 2
        set_num_threads(0)
        @test num_threads() >= 1
        @test_throws ArgumentError set_num_threads(-1)
    end

    widths = [3, 7, 5, 2]
    net = Network(widths; activation = :tanh, beta = 0.3, seed = 42)
    X = [sin(0.7i + 1.3j) for i in 1:6, j in 1:3]

    @testset "shape and parameters" begin
        @test depth(net) == 3
        @test num_params(net) == 80
        @test input_dim(net) == 3 && output_dim(net) == 2
        θ = network_params(net)
        @test length(θ) == 80 && all(isfinite, θ)
        @test network_params(Network(widths; activation = :tanh, beta = 0.3, seed = 42)) == θ
        @test network_params(Network(widths; activation = :tanh, beta = 0.3, seed = 43)) != θ
        @test occursin("3-7-5-2", sprint(show, net))
    end

    @testset "forward against an independent reference" begin
        F = forward(net, X)
        @test size(F) == (6, 2)
        @test relerr(F, reference_forward(widths, network_params(net), 0.3, tanh, X)) < 1e-13
        relu_net = Network([4, 9, 3]; activation = :relu, beta = 0.0, seed = 5)
        X4 = [cos(1.1i - 0.4j) for i in 1:5, j in 1:4]
        @test relerr(forward(relu_net, X4),
                     reference_forward([4, 9, 3], network_params(relu_net), 0.0, x -> max(x, 0.0), X4)) < 1e-13
        leaky = Network([4, 9, 3]; activation = :leaky_relu, activation_param = 0.2, beta = 0.5, seed = 6)
        @test relerr(forward(leaky, X4),
                     reference_forward([4, 9, 3], network_params(leaky), 0.5, x -> x > 0 ? x : 0.2x, X4)) < 1e-13
        # a single point given as a vector
        @test forward(net, X[2, :]) == forward(net, X[2:2, :])
    end

    @testset "same numbers as the C example" begin
        # bindings/c/example.c prints f on 8 points of the unit circle for this network (%.15f).
        c_numbers = [0.072771861462817, 0.450732680354583, 0.727340210197091, 0.322680781681397,
                     0.345464888476276, 0.228991770228189, 0.144001171424087, 0.016744168534700]
        ex = Network([2, 256, 256, 1]; activation = :relu, beta = 0.1, seed = 2018)
        γ = [2π * i / 8 for i in 0:7]
        f = forward(ex, [cos.(γ) sin.(γ)])
        @test maximum(abs.(vec(f) .- c_numbers)) < 1e-14
    end

    @testset "strided inputs and outputs without copies" begin
        F = forward(net, X)
        # row-major data seen through a transpose: the same numbers, bitwise
        Xrow = Matrix(transpose(X))                 # 3×6, column-major storage of Xᵀ
        @test forward(net, transpose(Xrow)) == F
        # a non-contiguous SubArray: every 2nd row and column of a bigger matrix
        B = fill(1e300, 13, 8)
        B[2:2:12, 3:2:7] .= X
        V = view(B, 2:2:12, 3:2:7)
        @test strides(V) == (2, 26)
        @test forward(net, V) == F
        # reversed rows (negative stride) and a strided output view, filled in place
        O = fill(-7.0, 6, 5)
        Ov = view(O, 6:-1:1, 2:2:4)
        forward!(Ov, net, view(X, :, :))
        @test O[6:-1:1, [2, 4]] == F
        @test all(O[:, [1, 3, 5]] .== -7.0)
        # no copy of the input on the Julia side: allocations independent of N
        big = randn(20_000, 3)
        out = zeros(20_000, 2)
        bigv = view(hcat(big, big), :, 2:4)
        forward!(out, net, bigv)
        @test (@allocated forward!(out, net, bigv)) < 2_000
        @test (@allocated forward!(out, net, transpose(Matrix(transpose(big))))) > 0  # sanity: measures
        tb = transpose(Matrix(transpose(big)))
        forward!(out, net, tb)
        @test (@allocated forward!(out, net, tb)) < 2_000
        # other element types are converted (one copy) and give the same numbers
        @test forward(net, Float32.(X)) == forward(net, Float64.(Float32.(X)))
        @test forward(net, [1 2 3; 4 5 6]) == forward(net, [1.0 2 3; 4 5 6])
    end

    @testset "clone and set_params!" begin
        c = copy(net)
        @test network_params(c) == network_params(net)
        θ = network_params(c) .* 0.5
        set_params!(c, θ)
        @test network_params(c) == θ
        @test network_params(net) != θ
        @test relerr(forward(c, X), reference_forward(widths, θ, 0.3, tanh, X)) < 1e-13
        close(c)
    end

    @testset "errors become NTKError with the library's message" begin
        err(f) = try
            f(); nothing
        catch e
            e
        end
        e = err(() -> forward(net, X[:, 1:2]))
        @test e isa NTKError && e.status == 2 && e.name == "NTK_STATUS_INVALID_ARGUMENT"
        @test occursin("columns", e.msg)
        Xn = copy(X); Xn[4, 2] = NaN
        e = err(() -> forward(net, Xn))
        @test e isa NTKError && e.status == 3 && occursin("x", e.msg)
        Xn[4, 2] = -Inf
        @test err(() -> forward(net, Xn)).status == 3
        O = fill(5.0, 6, 3)
        @test err(() -> forward!(O, net, X)).status == 2          # wrong output shape
        @test all(O .== 5.0)
        O = fill(5.0, 6, 2)
        @test err(() -> forward!(O, net, Xn)).status == 3
        @test all(O .== 5.0)                                         # untouched on error
        # output overlapping the input
        A = hcat(copy(X), zeros(6, 2))
        e = err(() -> forward!(view(A, :, 3:4), net, view(A, :, 1:3)))
        @test e.status == 2 && occursin("overlap", e.msg)
        # creation errors
        @test err(() -> Network([3, 0, 2])).status == 2
        @test err(() -> Network([3])).status == 2
        @test err(() -> Network(Int[])).status in (1, 2)
        @test err(() -> Network([3, 2]; beta = NaN)).status == 3
        @test err(() -> Network([3, 2]; beta = Inf)).status == 3
        @test err(() -> Network([3, 2]; beta = -1)).status == 2
        @test err(() -> Network([3, 2]; activation = 42)).status == 2
        @test err(() -> Network([3, 2]; activation = 10)).status == 1   # custom without functions
        @test err(() -> Network([3, 2]; activation = :leaky_relu, activation_param = NaN)).status == 3
        @test err(() -> Network([2^32 + 1, 2])).status == 2
        @test err(() -> Network([2^32, 2^32, 2^32])).status == 4     # parameter count overflows
        @test err(() -> Network([2^30, 2^30])).status == 4           # cannot allocate
        @test err(() -> Network([3, 2]; activation = :nope)) isa ArgumentError
        @test err(() -> Network([3, -2])) isa InexactError
        # parameters
        θ = network_params(net)
        @test err(() -> set_params!(net, θ[1:end-1])).status == 2
        bad = copy(θ); bad[17] = NaN
        e = err(() -> set_params!(net, bad))
        @test e.status == 3 && occursin("params[16]", e.msg)          # 0-based in the message
        @test network_params(net) == θ
        @test err(() -> network_params!(zeros(79), net)).status == 2
        @test occursin("NTK_STATUS", sprint(showerror, e))
    end

    @testset "close, use after close" begin
        c = Network([3, 4, 1])
        @test isopen(c)
        close(c)
        @test !isopen(c)
        close(c)                                                     # idempotent
        @test_throws ArgumentError forward(c, X)
        @test_throws ArgumentError network_params(c)
        @test_throws ArgumentError copy(c)
        @test_throws ArgumentError set_params!(c, zeros(5))
        @test occursin("closed", sprint(show, c))
    end

    @testset "infinite-width kernels" begin
        # closed forms written here: arc-cosine (ReLU / leaky ReLU), erf, identity
        function expect(act, a, s11, s22, s12)
            act == :identity && return (s12, 1.0)
            if act == :erf
                q = (1 + 2s11) * (1 + 2s22)
                return (2 / π * asin(2s12 / sqrt(q)), 4 / π / sqrt(q - 4s12^2))
            end
            nrm = sqrt(s11 * s22)
            θ = acos(clamp(nrm > 0 ? s12 / nrm : 0.0, -1.0, 1.0))
            return ((1 - a)^2 / 2π * nrm * (sin(θ) + (π - θ) * cos(θ)) + a * s12,
                    (1 - a)^2 * (π - θ) / 2π + a)
        end
        function ref(act, a, β, L, X1, X2)
            n0 = size(X1, 2)
            Σ = zeros(size(X1, 1), size(X2, 1)); Sd = similar(Σ); Θ = similar(Σ)
            for i in axes(X1, 1), j in axes(X2, 1)
                s11 = X1[i, :]' * X1[i, :] / n0 + β^2
                s22 = X2[j, :]' * X2[j, :] / n0 + β^2
                s12 = X1[i, :]' * X2[j, :] / n0 + β^2
                t, sd = s12, 0.0
                for l in 2:L
                    e11, = expect(act, a, s11, s11, s11); e22, = expect(act, a, s22, s22, s22)
                    e12, sd = expect(act, a, s11, s22, s12)
                    s11, s22, s12 = e11 + β^2, e22 + β^2, e12 + β^2
                    t = t * sd + s12
                end
                Σ[i, j], Sd[i, j], Θ[i, j] = s12, sd, t
            end
            return Σ, Sd, Θ
        end
        X1 = [sin(0.7i + 0.3j) for i in 1:5, j in 1:3]
        X2 = [cos(0.4i - 0.9j) for i in 1:4, j in 1:3]
        for (act, a, β, L) in ((:relu, 0.0, 0.1, 3), (:leaky_relu, 0.2, 0.3, 4), (:erf, 0.0, 0.5, 3),
                               (:identity, 0.0, 0.7, 4))
            n = Network([3, fill(8, L - 1)..., 1]; activation = act, activation_param = a, beta = β)
            k = kernel_limits(n, X1, X2)
            Σ, Sd, Θ = ref(act, a, β, L, X1, X2)
            @test relerr(k.nngp, Σ) < 1e-12 && relerr(k.sigma_dot, Sd) < 1e-12 && relerr(k.ntk, Θ) < 1e-12
            @test kernel_limit(n, X1, X2) == k.ntk
            @test kernel_limit(n, X1, X2; kernel = :nngp) == k.nngp
        end
        n = Network([3, 8, 8, 1]; activation = :relu, beta = 0.1)
        S = kernel_limit(n, X1)
        @test S == S' && relerr(S, kernel_limit(n, X1, X1)) < 1e-15
        @test kernel_limit(n, transpose(Matrix(transpose(X1)))) == S     # layouts, bitwise
        O = fill(-7.0, 7, 5)
        kernel_limit!(n, view(X1, :, :); ntk = view(O, 2:6, :))
        @test O[2:6, :] == S && all(O[[1, 7], :] .== -7.0)
        @test err(() -> kernel_limit(n, X1; progress = (d, t) -> true)).status == 5
        # errors
        e = err(() -> kernel_limit!(n, X1))
        @test e isa NTKError && e.status == 1
        @test err(() -> kernel_limit(n, X1[:, 1:2])).status == 2
        @test err(() -> kernel_limit(n, X1, X2[:, 1:2])).status == 2
        Xn = copy(X1); Xn[3, 1] = NaN
        e = err(() -> kernel_limit(n, Xn))
        @test e.status == 3 && occursin("x1", e.msg)
        O = fill(5.0, 5, 5)
        @test err(() -> kernel_limit!(n, X1, X2; ntk = O)).status == 2
        @test err(() -> kernel_limit!(n, X1; ntk = O, nngp = O)).status == 2   # outputs overlap
        @test all(O .== 5.0)
        @test err(() -> kernel_limit(n, X1; kernel = :nope)) isa ArgumentError
        c = Network([3, 4, 1]); close(c)
        @test err(() -> kernel_limit(c, X1)) isa ArgumentError
    end

    @testset "empirical kernels and the Jacobian" begin
        X1 = [sin(0.3i - 0.8j) for i in 1:4, j in 1:3]
        X2 = [cos(0.5i + 0.2j) for i in 1:3, j in 1:3]
        J1, J2 = network_jacobian(net, X1), network_jacobian(net, X2)
        @test size(J1) == (8, 80)
        @test relerr(J1, fd_jacobian(net, X1)) < 1e-8
        full = kernel_empirical(net, X1, X2; mode = :full)
        @test size(full) == (8, 6)
        @test relerr(full, J1 * J2') < 1e-13
        tr = kernel_empirical(net, X1, X2)
        @test size(tr) == (4, 3)
        @test relerr(tr, trace_of(J1 * J2', 2)) < 1e-13
        for method in (:auto, :jacobian, :structured, 1)
            @test relerr(kernel_empirical(net, X1, X2; mode = :full, method = method), full) < 1e-13
        end
        # X2 = nothing: X2 = X1, exactly symmetric
        S = kernel_empirical(net, X1)
        @test S == S' && relerr(S, kernel_empirical(net, X1, X1)) < 1e-14
        # layouts: transpose of row-major data, strided views, output view filled in place, bitwise
        @test kernel_empirical(net, transpose(Matrix(transpose(X1))), X2) == tr
        B = fill(1e300, 9, 7)
        B[1:2:7, 2:2:6] .= X1
        O = fill(-7.0, 6, 5)
        kernel_empirical!(view(O, 2:5, 1:2:5), net, view(B, 1:2:7, 2:2:6), X2)
        @test O[2:5, 1:2:5] == tr && all(O[[1, 6], :] .== -7.0) && all(O[:, [2, 4]] .== -7.0)
        Jo = fill(-7.0, 10, 80)
        network_jacobian!(view(Jo, 2:9, :), net, X1)
        @test Jo[2:9, :] == J1 && all(Jo[[1, 10], :] .== -7.0)
        # no copies on the Julia side
        out = zeros(4, 3)
        Bv = view(B, 1:2:7, 2:2:6)
        kernel_empirical!(out, net, Bv, X2)
        @test (@allocated kernel_empirical!(out, net, Bv, X2)) < 3_000
        # progress: called, cancel -> NTK_STATUS_CANCELLED, exceptions in the callback rethrown
        Xbig = [sin(0.01i * j) for i in 1:150, j in 1:3]
        calls = Ref(0)
        Kp = kernel_empirical(net, Xbig; progress = (d, t) -> (calls[] += 1; false))
        @test calls[] >= 2 && Kp == kernel_empirical(net, Xbig)
        e = err(() -> kernel_empirical(net, Xbig; progress = (d, t) -> true))
        @test e isa NTKError && e.status == 5
        @test err(() -> network_jacobian(net, Xbig; progress = (d, t) -> true)).status == 5
        @test err(() -> kernel_empirical(net, Xbig; progress = (d, t) -> error("boom"))) isa ErrorException
        # errors
        e = err(() -> kernel_empirical(net, X1[:, 1:2]))
        @test e isa NTKError && e.status == 2 && occursin("x1", e.msg)
        @test err(() -> kernel_empirical(net, X1, X2[:, 1:2])).status == 2
        Xn = copy(X1); Xn[2, 3] = NaN
        e = err(() -> kernel_empirical(net, Xn))
        @test e.status == 3 && occursin("x1", e.msg)
        @test err(() -> kernel_empirical(net, X1, Xn)).status == 3
        @test err(() -> network_jacobian(net, Xn)).status == 3
        O = fill(5.0, 4, 4)
        @test err(() -> kernel_empirical!(O, net, X1, X2)).status == 2          # 4×3 expected
        @test err(() -> kernel_empirical!(O, net, X1; mode = :full)).status == 2
        @test err(() -> kernel_empirical!(O, net, Xn)).status == 3
        @test all(O .== 5.0)
        @test err(() -> kernel_empirical(net, X1; mode = :nope)) isa ArgumentError
        @test err(() -> kernel_empirical(net, X1; method = :nope)) isa ArgumentError
        @test err(() -> kernel_empirical(net, X1; method = 7)).status == 2
        @test err(() -> kernel_empirical!(zeros(4, 4), net, X1; mode = 5)).status == 2
        @test err(() -> network_jacobian!(zeros(8, 79), net, X1)).status == 2
        A = zeros(4, 7); A[:, 1:3] .= X1
        e = err(() -> kernel_empirical!(view(A, :, 3:6), net, view(A, :, 1:3)))
        @test e.status == 2 && occursin("overlap", e.msg)
        c = Network([3, 4, 1]); close(c)
        @test err(() -> kernel_empirical(c, X1)) isa ArgumentError
        @test err(() -> network_jacobian(c, X1)) isa ArgumentError
    end

    @testset "kernel flows" begin
        A = [1.0 0.3 -0.2; 0.4 0.9 0.1; -0.5 0.2 0.8]
        K = A * A' + 0.1I
        Ks = [0.3 -0.1 0.5; 0.2 0.4 -0.3]
        Y = [0.5 -1.0; 1.0 0.2; -0.3 0.7]
        F0 = [0.1 0.2; -0.4 0.3; 0.6 -0.5]
        Fs0 = [0.05 -0.1; 0.2 0.3]
        N = 3
        # eigen-free reference: Taylor series of E = exp(-tK/N) and of F = ∫_0^t exp(-sK/N) ds
        function ref(t)
            B = -t * K / N
            term = Matrix(1.0I, 3, 3); E = copy(term); F = t * term
            for m in 1:80
                term = term * B / m
                E += term; F += t * term / (m + 1)
            end
            return (Y + E * (F0 - Y), Fs0 - Ks * F * (F0 - Y) / N)
        end
        for method in (:auto, :eigen, :krylov, :ode)
            tol = method == :ode ? 1e-8 : 1e-11
            fl = Flow(K, Y, F0; test_kernel = Ks, test_f0 = Fs0, method = method)
            @test time(fl) == 0.0 && outputs(fl) == F0 && flow_predict(fl) == Fs0
            set_time!(fl, 0.7)
            @test time(fl) == 0.7
            @test relerr(outputs(fl), ref(0.7)[1]) < tol
            @test relerr(flow_predict(fl), ref(0.7)[2]) < tol
            flow_step!(flow_step!(fl, 0.25), 0.55)
            @test time(fl) == 0.7 + 0.25 + 0.55
            @test relerr(outputs(fl), ref(1.5)[1]) < tol && relerr(flow_predict(fl), ref(1.5)[2]) < tol
            @test flow_loss(fl) ≈ sum(abs2, outputs(fl) - Y) / 2N rtol = 1e-14
            close(fl)
        end
        fl = Flow(K, Y, F0; test_kernel = Ks, test_f0 = Fs0)
        set_time!(fl, Inf)
        @test relerr(outputs(fl), Y) < 1e-10
        @test relerr(flow_predict(fl), Fs0 - Ks * (K \ (F0 - Y))) < 1e-10
        @test occursin("N = 3, k = 2, M = 2", sprint(show, fl))
        # full kernel K ⊗ I equals the scalar kernel; outputs into a strided view in place
        ffull = Flow(kron(K, Matrix(1.0I, 2, 2)), Y, F0; test_kernel = kron(Ks, Matrix(1.0I, 2, 2)),
                     test_f0 = Fs0)
        set_time!(fl, 1.3); set_time!(ffull, 1.3)
        @test relerr(outputs(ffull), outputs(fl)) < 1e-12 && relerr(flow_predict(ffull), flow_predict(fl)) < 1e-12
        O = fill(-7.0, 7, 2)
        outputs!(view(O, 1:2:5, :), fl)
        @test O[1:2:5, :] == outputs(fl) && all(O[2:2:6, :] .== -7.0)
        # inputs as views/transposes without copies give the same bits
        Kbig = zeros(5, 5); Kbig[2:4, 2:4] .= K
        fv = Flow(view(Kbig, 2:4, 2:4), transpose(Matrix(Y')), F0)
        set_time!(fv, 1.3)
        @test outputs(fv) == outputs(fl)
        # a vector target is one output per point
        fvec = Flow(K, Y[:, 1], F0[:, 1])
        set_time!(fvec, 1.3)
        @test size(outputs(fvec)) == (3, 1) && relerr(outputs(fvec), outputs(fl)[:, 1:1]) < 1e-13
        # cross-entropy vs a classical RK4 written here
        Yp = [1.0 0.0 0.0; 0.2 0.5 0.3; 0.0 0.0 1.0]
        G0 = [0.3 -0.2 0.1; -0.5 0.4 0.0; 0.2 0.2 -0.6]
        Gs0 = [0.1 0.0 -0.1; 0.3 -0.3 0.2]
        softmax(f) = (e = exp.(f .- maximum(f, dims = 2)); e ./ sum(e, dims = 2))
        rhs(f) = (d = softmax(f) - Yp; (-K * d / N, -Ks * d / N))
        g, gs = copy(G0), copy(Gs0)
        h = 1.5 / 1000
        for _ in 1:1000
            k1, s1 = rhs(g); k2, s2 = rhs(g + h / 2 * k1); k3, s3 = rhs(g + h / 2 * k2); k4, s4 = rhs(g + h * k3)
            g += h / 6 * (k1 + 2k2 + 2k3 + k4); gs += h / 6 * (s1 + 2s2 + 2s3 + s4)
        end
        fce = Flow(K, Yp, G0; test_kernel = Ks, test_f0 = Gs0, cost = :cross_entropy)
        set_time!(fce, 1.5)
        @test relerr(outputs(fce), g) < 1e-8 && relerr(flow_predict(fce), gs) < 1e-8
        @test flow_loss(fce) ≈ -sum(Yp .* log.(softmax(g))) / N rtol = 1e-8
        # progress / cancel of set_time! and flow_step!: a cancel leaves the flow unchanged, and the
        # call repeated gives the same bits as an uncancelled one
        calls = Tuple{Int,Int}[]
        fp = Flow(K, Yp, G0; cost = :cross_entropy)
        set_time!(fp, 20.0; progress = (d, t) -> (push!(calls, (d, t)); false))
        @test length(calls) >= 2 && calls[1] == (0, 1_000_000) && calls[end] == (1_000_000, 1_000_000)
        @test issorted(first.(calls))
        fq = Flow(K, Yp, G0; cost = :cross_entropy)
        for j in 1:length(calls)
            n = Ref(0)
            e = err(() -> set_time!(fq, 20.0; progress = (d, t) -> (n[] += 1) >= j))
            @test e.status == 5 && time(fq) == 0.0 && outputs(fq) == G0
        end
        set_time!(fq, 20.0)
        @test outputs(fq) == outputs(fp)
        @test err(() -> flow_step!(fq, 1.0; progress = (d, t) -> true)).status == 5 && time(fq) == 20.0
        @test err(() -> flow_step!(fq, 1.0; progress = (d, t) -> error("boom"))) isa ErrorException
        @test time(fq) == 20.0
        # a hopelessly stiff ODE request fails fast (NUMERICAL)
        @test err(() -> set_time!(Flow(1e300 * K, Yp, G0; cost = :cross_entropy), 3.0)).status == 6
        # errors
        @test err(() -> set_time!(fce, Inf)).status == 2
        e = err(() -> flow_step!(fl, -1.0))
        @test e isa NTKError && e.status == 2 && occursin("dt", e.msg)
        @test err(() -> flow_step!(fl, NaN)).status == 3
        @test err(() -> set_time!(fl, -1)).status == 2
        @test time(fl) == 1.3
        Ka = copy(K); Ka[1, 3] += 1e-3
        e = err(() -> Flow(Ka, Y, F0))
        @test e.status == 2 && occursin("symmetric", e.msg)
        Kn = copy(K); Kn[2, 2] = NaN
        @test err(() -> Flow(Kn, Y, F0)).status == 3
        Ki = copy(K); Ki[1, 2] = Ki[2, 1] = 10.0
        e = err(() -> Flow(Ki, Y, F0))
        @test e.status == 6 && occursin("positive semi-definite", e.msg)
        @test err(() -> Flow(K, Y, F0[:, 1:1])).status == 2
        @test err(() -> Flow(K[1:2, :], Y, F0)).status == 2
        @test err(() -> Flow(K, Y, F0; test_kernel = Ks)).status == 1
        @test err(() -> Flow(K, Y, F0; test_kernel = Ks[:, 1:2], test_f0 = Fs0)).status == 2
        @test err(() -> Flow(K, Y, F0; cost = :hinge)) isa ArgumentError
        @test err(() -> Flow(K, Y, F0; cost = 9)).status == 2
        @test err(() -> Flow(K, Y, F0; method = 9)).status == 2
        @test err(() -> Flow(K, Y, F0; rtol = NaN)).status == 3
        fnt = Flow(K, Y, F0)
        e = err(() -> flow_predict(fnt))
        @test e.status == 2 && occursin("test", e.msg)
        O = fill(5.0, 3, 3)
        @test err(() -> outputs!(O, fnt)).status == 2
        @test all(O .== 5.0)
        close(fnt); close(fnt)
        @test !isopen(fnt) && occursin("closed", sprint(show, fnt))
        for f in (outputs, flow_predict, flow_loss, time, x -> flow_step!(x, 0.1), x -> set_time!(x, 1.0))
            @test err(() -> f(fnt)) isa ArgumentError
        end
    end

    @testset "training" begin
        Xt = [sin(0.9i + 0.4j) for i in 1:5, j in 1:3]
        Yt = [cos(0.3i - 0.5j) for i in 1:5, j in 1:2]
        t = copy(net)
        θ0 = network_params(t)
        F0 = forward(t, Xt)
        hist = train!(t, Xt, Yt; learning_rate = 0.5, steps = 30)
        @test length(hist) == 31
        @test hist[1] ≈ sum(abs2, F0 - Yt) / 2 / 5 rtol = 1e-13
        @test all(diff(hist) .< 0) && hist[end] < 0.5 * hist[1]
        @test hist[end] ≈ sum(abs2, forward(t, Xt) - Yt) / 2 / 5 rtol = 1e-13
        # one small step: θ1 = θ0 − (η/N) Jᵀ d with d the residual rows (i-1) n_L + a
        u = copy(net)
        η = 1e-4
        J = network_jacobian(u, Xt)
        d = vec(permutedims(forward(u, Xt) - Yt))
        Θ = kernel_empirical(u, Xt; mode = :full)
        f0 = forward(u, Xt)
        train!(u, Xt, Yt; learning_rate = η, steps = 1)
        @test maximum(abs.(network_params(u) - (θ0 - η / 5 * (J' * d)))) < 1e-15
        df = vec(permutedims(forward(u, Xt) - f0))
        pred = -η / 5 * (Θ * d)
        @test maximum(abs.(df - pred)) < 1e-2 * maximum(abs.(pred))
        # 5 steps = 5 single steps, bitwise; cross-entropy decreases
        a, b = copy(net), copy(net)
        train!(a, Xt, Yt; learning_rate = 0.3, steps = 5)
        for _ in 1:5; train!(b, Xt, Yt; learning_rate = 0.3, steps = 1); end
        @test network_params(a) == network_params(b)
        P = [0.2 0.8; 0.35 0.65; 0.5 0.5; 0.65 0.35; 0.8 0.2]
        hce = train!(copy(net), Xt, P; learning_rate = 1.0, steps = 20, cost = :cross_entropy)
        @test all(diff(hce) .< 0)
        # cancel after 3 steps = 3 steps
        c3, r3 = copy(net), copy(net)
        e = err(() -> train!(c3, Xt, Yt; learning_rate = 0.3, steps = 10, progress = (d, t) -> d >= 3))
        @test e isa NTKError && e.status == 5
        train!(r3, Xt, Yt; learning_rate = 0.3, steps = 3)
        @test network_params(c3) == network_params(r3)
        # errors leave the parameters untouched
        v = copy(net)
        θv = network_params(v)
        @test err(() -> train!(v, Xt, Yt[:, 1:1]; learning_rate = 0.1, steps = 2)).status == 2
        @test err(() -> train!(v, Xt, Yt; learning_rate = 0.0, steps = 2)).status == 2
        @test err(() -> train!(v, Xt, Yt; learning_rate = NaN, steps = 2)).status == 3
        Yn = copy(Yt); Yn[3, 2] = NaN
        e = err(() -> train!(v, Xt, Yn; learning_rate = 0.1, steps = 2))
        @test e.status == 3 && occursin("y", e.msg)
        @test err(() -> train!(v, Xt, Yt; learning_rate = 0.1, steps = 2, cost = :nope)) isa ArgumentError
        @test err(() -> train!(v, Xt, Yt; learning_rate = 0.1, steps = -1)) isa ArgumentError
        e = err(() -> train!(v, Xt, Yt; learning_rate = 1e150, steps = 100))
        @test e.status == 6 && all(isfinite, network_params(v))
        set_params!(v, θv)
        @test err(() -> train!(v, Xt[:, 1:2], Yt; learning_rate = 0.1, steps = 2)).status == 2
        @test network_params(v) == θv
    end

    @testset "spectrum diagnostics" begin
        Xs = [sin(0.37i * j) for i in 1:12, j in 1:3]
        K = kernel_empirical(net, Xs)
        ev = kernel_spectrum(K)
        ref = eigvals(Symmetric(K))
        @test relerr(ev, ref) < 1e-12 && issorted(ev)
        @test relerr(kernel_spectrum(K; which = :smallest, count = 3), ref[1:3]) < 1e-12
        @test relerr(kernel_spectrum(K; which = :largest, count = 2), ref[end:-1:end-1]) < 1e-12
        c = kernel_condition(K)
        @test relerr([c.lambda_min, c.lambda_max], [ref[1], ref[end]]) < 1e-12
        @test c.condition ≈ ref[end] / ref[1] rtol = 1e-9
        @test kernel_condition([1.0 0; 0 -1]).condition == Inf
        @test err(() -> kernel_spectrum(K; count = 3)).status == 2
        @test err(() -> kernel_spectrum(K; which = :smallest, count = 0)).status == 2
        @test err(() -> kernel_spectrum(K; which = :middle)) isa ArgumentError
        Ka = copy(K); Ka[1, 2] += 1e-3
        @test err(() -> kernel_spectrum(Ka)).status == 2
        @test err(() -> kernel_condition(K[:, 1:5])).status == 2
        Ka[1, 2] = NaN
        @test err(() -> kernel_condition(Ka)).status == 3
    end

    @testset "same numbers as the C example (bitwise)" begin
        nums = c_example_numbers()
        @test length(nums) >= 20
        begin
            ex = Network([2, 256, 256, 1]; activation = :relu, beta = 0.1, seed = 2018)
            γ = [2π * i / 8 for i in 0:7]
            P = [cos.(γ) sin.(γ)]
            Kemp = kernel_empirical(ex, P)
            @test [nums["K_emp[0,$j]"] for j in 0:7] == Kemp[1, :]
            y = cos.(3 .* γ)
            fl = Flow(Kemp, y, vec(forward(ex, P)))
            set_time!(fl, 10.0)
            @test [nums["f_t[$i,0]"] for i in 0:7] == vec(outputs(fl))
            hist = train!(copy(ex), P, reshape(y, :, 1); learning_rate = 1.0, steps = 20)
            @test [nums["loss[$s,0]"] for s in 0:5:20] == hist[1:5:21]
            @test [nums["Theta_inf[0,$j]"] for j in 0:7] == kernel_limit(ex, P)[1, :]
        end
    end

    @testset "1000 create/free cycles through finalizers" begin
        # each network holds 100k parameters (800 kB): 1000 leaked ones would be 800 MB
        make() = (n = Network([100, 1000]; seed = 1); forward(n, ones(1, 100)); nothing)
        for _ in 1:50; make(); end
        GC.gc(); GC.gc()
        before = rss_kib()
        for k in 1:1000
            make()
            k % 25 == 0 && GC.gc(false)
        end
        GC.gc(); GC.gc()
        growth_mib = (rss_kib() - before) / 1024
        println("RSS growth over 1000 create/free cycles: ", round(growth_mib, digits = 1), " MiB")
        @test growth_mib < 100
        # flows: each holds a copy of a 200×200 kernel (320 kB): 1000 leaked ones would be 320 MB
        B = [sin(0.1i * j) for i in 1:200, j in 1:20]
        Kf = B * B' / 20 + I
        yf = ones(200)
        makeflow() = (f = Flow(Kf, yf, zeros(200)); flow_loss(f); nothing)
        for _ in 1:20; makeflow(); end
        GC.gc(); GC.gc()
        before = rss_kib()
        for k in 1:1000
            makeflow()
            k % 25 == 0 && GC.gc(false)
        end
        GC.gc(); GC.gc()
        growth_mib = (rss_kib() - before) / 1024
        println("RSS growth over 1000 flow create/free cycles: ", round(growth_mib, digits = 1), " MiB")
        @test growth_mib < 100
    end
    include("predict.jl")
end
include("solve.jl")
