# Tests of per-layer architectures (bindings/julia/src/arch.jl), included from runtests.jl.
# Reference: arch_nt.txt beside this file, tests/data/arch_nt.txt without the Jacobian and
# empirical-NTK lines (kept equal by tests/packaging.rs; tools/arch_reference.py, neural-tangents 0.6.5): 36 random
# stax.serial(Dense(W_std, b_std, parameterization), act, ...) networks on neural-tangents' own
# parameters; forward outputs within 1e-12 and limit NNGP/NTK within 1e-12 relative (off the
# correlation-1 pairs where a ReLU-type layer makes neural-tangents' arccos lose ~1e-8).

const ARCH_ACTS = Dict("relu" => :relu, "leaky" => :leaky_relu, "erf" => :erf, "gelu" => :gelu,
                       "sin" => :sin, "identity" => :identity)

function read_arch_cases(path)
    cases = []
    for line in eachline(path)
        t = split(line)
        isempty(t) && continue
        if t[1] == "arch"
            push!(cases, Dict{String,Any}("name" => t[2], "param" => Symbol(t[3]),
                                          "relu" => t[7] == "1", "layers" => []))
        elseif t[1] == "widths"
            cases[end]["widths"] = parse.(Int, t[2:end])
        elseif t[1] == "layer"
            push!(cases[end]["layers"], (parse(Float64, t[3]), parse(Float64, t[4]), t[5],
                                         parse(Float64, t[6])))
        elseif t[1] == "mat"
            r, c = parse(Int, t[3]), parse(Int, t[4])
            cases[end][t[2]] = permutedims(reshape(parse.(Float64, t[5:end]), c, r))
        end
    end
    return cases
end

@testset "architectures vs neural-tangents" begin
    cases = read_arch_cases(joinpath(@__DIR__, "arch_nt.txt"))
    @test length(cases) >= 30
    for c in cases
        ls = c["layers"]
        hidden = ls[1:end-1]
        a = Architecture(c["widths"]; W_std = [l[1] for l in ls], b_std = [l[2] for l in ls],
                         activation = [ARCH_ACTS[l[3]] for l in hidden],
                         activation_param = [l[4] for l in hidden], parameterization = c["param"])
        net = Network(a; seed = 3)
        set_params!(net, vec(c["theta"]))
        X = c["x"]
        f = forward(net, X)
        @test maximum(abs.(f .- c["f"])) <= 1e-12 * maximum(abs.(c["f"]))
        k = kernel_limits(net, X)
        n = size(X, 1)
        keep = [!(c["relu"] && X[i, :] == X[j, :]) for i in 1:n, j in 1:n]
        for (mine, ref) in ((k.nngp, c["nngp"]), (k.ntk, c["ntk"]))
            @test maximum(abs.((mine .- ref)[keep])) <= 1e-12 * maximum(abs.(ref))
        end
    end
    # Scalars broadcast to every layer; per-layer vectors of the wrong length are rejected.
    a = Architecture([3, 4, 4, 1]; W_std = 1.5, b_std = 0.1, activation = :erf)
    @test a.W_std == [1.5, 1.5, 1.5] && a.activation == Cint[3, 3]
    @test_throws ArgumentError Architecture([3, 4, 1]; W_std = [1.0, 2.0, 3.0])
    @test_throws ArgumentError Architecture([3, 4, 1]; parameterization = :mean_field)
    e = try
        Network(Architecture([3, 4, 1]; W_std = [1.0, -2.0]))
        nothing
    catch err
        err
    end
    @test e isa NTKError && occursin("arch.layers[1].sigma_w", e.msg)
end
