# Per-layer architectures (issue #13; included from NTK.jl): ntk_architecture_init,
# ntk_layer_init, ntk_network_create_arch. See docs/porting-from-neural-tangents.md.

export Architecture

const PARAMETERIZATIONS = Dict{Symbol,Cint}(:ntk => 0, :standard => 1)

struct CLayer             # ntk_layer
    sigma_w::Cdouble
    sigma_b::Cdouble
    activation::Cint
    activation_param::Cdouble
    custom_sigma::Ptr{Cvoid}
    custom_dsigma::Ptr{Cvoid}
    custom_user_data::Ptr{Cvoid}
end

struct CArchitecture      # ntk_architecture
    struct_size::Csize_t
    version::UInt32
    parameterization::Cint
    widths::Ptr{Csize_t}
    num_widths::Csize_t
    layers::Ptr{CLayer}
    num_layers::Csize_t
    layer_size::Csize_t
    seed::UInt64
end

"""
    Architecture(widths; W_std = 1.0, b_std = 0.0, activation = :relu, activation_param = 0.0,
                 parameterization = :ntk)

A fully connected network of per-layer settings, as neural-tangents'
`stax.serial(Dense(n_1, W_std, b_std, parameterization), act, …, Dense(n_L, …))`:
`W_std` (σ_w > 0) and `b_std` (σ_b ≥ 0) are a scalar or one value per weight layer
(`length(widths) - 1`), `activation` (and `activation_param`, the leaky slope) a scalar or one
value per hidden layer (`length(widths) - 2`). `parameterization` is `:ntk`
(z = σ_w W h/√n + σ_b b, θ ~ N(0,1)) or `:standard` (z = W h + b, W ~ N(0, σ_w²/n),
b ~ N(0, σ_b²)). Build the network with `Network(arch; seed = 0)`.
"""
struct Architecture
    widths::Vector{Int}
    W_std::Vector{Float64}
    b_std::Vector{Float64}
    activation::Vector{Cint}
    activation_param::Vector{Float64}
    parameterization::Cint
end

function _per_layer(v, n::Integer, what::String)
    if v isa AbstractVector
        length(v) == n || throw(ArgumentError("$what has $(length(v)) entries, expected $n (one per layer) or a scalar"))
        return collect(v)
    end
    return fill(v, n)
end

function Architecture(widths::AbstractVector{<:Integer}; W_std = 1.0, b_std = 0.0,
                      activation = :relu, activation_param = 0.0, parameterization = :ntk)
    L = length(widths) - 1
    L >= 1 || throw(ArgumentError("widths needs at least 2 entries (n_0 and n_L)"))
    acts = [_enum(ACTIVATIONS, a, "activation") for a in _per_layer(activation, L - 1, "activation")]
    return Architecture(Int.(widths), Float64.(_per_layer(W_std, L, "W_std")),
                        Float64.(_per_layer(b_std, L, "b_std")), acts,
                        Float64.(_per_layer(activation_param, L - 1, "activation_param")),
                        _enum(PARAMETERIZATIONS, parameterization, "parameterization"))
end

function Network(a::Architecture; seed::Integer = 0)
    L = length(a.widths) - 1
    w = Csize_t[x for x in a.widths]
    layers = Vector{CLayer}(undef, L)
    for l in 1:L
        hidden = l < L
        layers[l] = CLayer(a.W_std[l], a.b_std[l], hidden ? a.activation[l] : Cint(-1),
                           hidden ? a.activation_param[l] : 0.0, C_NULL, C_NULL, C_NULL)
    end
    c = Ref{CArchitecture}()
    _check(ccall((:ntk_architecture_init, libntk), Cint, (Ptr{CArchitecture}, Csize_t), c,
                 sizeof(CArchitecture)))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve w layers begin
        arch = CArchitecture(c[].struct_size, c[].version, a.parameterization, pointer(w), length(w),
                             pointer(layers), L, sizeof(CLayer), UInt64(seed))
        _check(ccall((:ntk_network_create_arch, libntk), Cint,
                     (Ref{CArchitecture}, Ref{Ptr{Cvoid}}), arch, out))
    end
    return Network(out[], Int.(w))
end
