# Tests of the Julia binding. Run from anywhere (after `cargo build --release`):
#   julia bindings/julia/test/runtests.jl            (NTK_LIB=/path/libntk.so to pick a build)
# Reference numbers come from an independent plain-loop forward pass written here from the
# parameters, from the C example's printed output, and from the row-major/column-major identity.
pushfirst!(LOAD_PATH, joinpath(@__DIR__, ".."))
using NTK
using Test
using LinearAlgebra: transpose

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
rss_kib() = parse(Int, split(read("/proc/self/statm", String))[2]) * 4

@testset "NTK.jl" begin
    @testset "library" begin
        cargo = read(joinpath(@__DIR__, "..", "..", "..", "Cargo.toml"), String)
        v = match(r"\nversion = \"([^\"]+)\"", cargo)[1]
        @test NTK.version() == VersionNumber(v)
        if haskey(ENV, "NTK_LIB")
            @test NTK.libntk == abspath(ENV["NTK_LIB"])
        else
            @test endswith(NTK.libntk, joinpath("target", "release", "libntk.so")) ||
                  endswith(NTK.libntk, joinpath("target", "debug", "libntk.so"))
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
        θ = params(net)
        @test length(θ) == 80 && all(isfinite, θ)
        @test params(Network(widths; activation = :tanh, beta = 0.3, seed = 42)) == θ
        @test params(Network(widths; activation = :tanh, beta = 0.3, seed = 43)) != θ
        @test occursin("3-7-5-2", sprint(show, net))
    end

    @testset "forward against an independent reference" begin
        F = forward(net, X)
        @test size(F) == (6, 2)
        @test relerr(F, reference_forward(widths, params(net), 0.3, tanh, X)) < 1e-13
        relu_net = Network([4, 9, 3]; activation = :relu, beta = 0.0, seed = 5)
        X4 = [cos(1.1i - 0.4j) for i in 1:5, j in 1:4]
        @test relerr(forward(relu_net, X4),
                     reference_forward([4, 9, 3], params(relu_net), 0.0, x -> max(x, 0.0), X4)) < 1e-13
        leaky = Network([4, 9, 3]; activation = :leaky_relu, activation_param = 0.2, beta = 0.5, seed = 6)
        @test relerr(forward(leaky, X4),
                     reference_forward([4, 9, 3], params(leaky), 0.5, x -> x > 0 ? x : 0.2x, X4)) < 1e-13
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
        @test params(c) == params(net)
        θ = params(c) .* 0.5
        set_params!(c, θ)
        @test params(c) == θ
        @test params(net) != θ
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
        θ = params(net)
        @test err(() -> set_params!(net, θ[1:end-1])).status == 2
        bad = copy(θ); bad[17] = NaN
        e = err(() -> set_params!(net, bad))
        @test e.status == 3 && occursin("params[16]", e.msg)          # 0-based in the message
        @test params(net) == θ
        @test err(() -> params!(zeros(79), net)).status == 2
        @test occursin("NTK_STATUS", sprint(showerror, e))
    end

    @testset "close, use after close" begin
        c = Network([3, 4, 1])
        @test isopen(c)
        close(c)
        @test !isopen(c)
        close(c)                                                     # idempotent
        @test_throws ArgumentError forward(c, X)
        @test_throws ArgumentError params(c)
        @test_throws ArgumentError copy(c)
        @test_throws ArgumentError set_params!(c, zeros(5))
        @test occursin("closed", sprint(show, c))
    end

    @testset "1000 create/free cycles through finalizers" begin
        # each network holds 100k parameters (800 kB): 1000 leaked ones would be 800 MB
        make() = (n = Network([100, 1000]; seed = 1); forward(n, ones(1, 100)); nothing)
        for _ in 1:50; make(); end
        GC.gc(); GC.gc()
        before = rss_kib()
        for k in 1:1000
            make()
            k % 100 == 0 && GC.gc()
        end
        GC.gc(); GC.gc()
        growth_mib = (rss_kib() - before) / 1024
        println("RSS growth over 1000 create/free cycles: ", round(growth_mib, digits = 1), " MiB")
        @test growth_mib < 100
    end
end
