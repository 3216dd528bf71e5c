"""
    NTK

Julia binding of the `ntk` C library (Neural Tangent Kernels, Jacot, Gabriel & Hongler 2018).

The shared library is located once, when the module is loaded: `ENV["NTK_LIB"]` (a path to
`libntk.so`) if set, otherwise the repository's `target/release` (then `target/debug`) build
output. Build it with `cargo build --release` in the repository root.

Conventions (as in the C API): points are ROWS, so an input batch is an `N × n_0` matrix.
Julia matrices are column-major and are passed to the library as strided views
(`row_stride = stride(A, 1)`, `col_stride = stride(A, 2)`) without copying; so are strided
`SubArray`s (`view(A, 1:2:9, 2:4)`, reversed ranges) and `transpose`/`adjoint` of those.
Outputs are allocated in Julia and filled in place by the library. Failed calls throw an
[`NTKError`](@ref) carrying the library's message; outputs are then left untouched.

Custom activations (C function pointers) are not exposed: the library calls them from its own
worker threads, which must not run Julia code.
"""
module NTK

# The library path is read from the environment when the module loads; do not bake it into a
# precompile cache, where a changed NTK_LIB would go unnoticed.
__precompile__(false)

using Libdl
using LinearAlgebra: Transpose, Adjoint

export Network, NTKError, forward, forward!, params, params!, set_params!, depth, num_params,
       input_dim, output_dim, num_threads, set_num_threads

function _find_library()
    path = get(ENV, "NTK_LIB", "")
    if !isempty(path)
        isfile(path) || error("NTK: ENV[\"NTK_LIB\"] = $(repr(path)) is not a file")
        return abspath(path)
    end
    root = normpath(joinpath(@__DIR__, "..", "..", ".."))
    for profile in ("release", "debug")
        candidate = joinpath(root, "target", profile, "libntk." * Libdl.dlext)
        isfile(candidate) && return candidate
    end
    error("NTK: libntk not found; run `cargo build --release` in $root or set ENV[\"NTK_LIB\"]")
end

"Path of the `libntk` shared library used by every `ccall` of this module."
const libntk = _find_library()

# ---------------------------------------------------------------------------------------------
# C types (layouts of include/ntk.h)

struct CMatrix            # ntk_matrix
    data::Ptr{Cdouble}
    rows::Csize_t
    cols::Csize_t
    row_stride::Cptrdiff_t
    col_stride::Cptrdiff_t
end

struct CMatrixMut         # ntk_matrix_mut
    data::Ptr{Cdouble}
    rows::Csize_t
    cols::Csize_t
    row_stride::Cptrdiff_t
    col_stride::Cptrdiff_t
end

struct CNetworkConfig     # ntk_network_config
    widths::Ptr{Csize_t}
    num_widths::Csize_t
    activation::Cint
    activation_param::Cdouble
    beta::Cdouble
    seed::UInt64
    custom_sigma::Ptr{Cvoid}
    custom_dsigma::Ptr{Cvoid}
    custom_user_data::Ptr{Cvoid}
end

"Values of the C enum `ntk_activation` by name."
const ACTIVATIONS = Dict{Symbol,Cint}(
    :identity => 0, :relu => 1, :leaky_relu => 2, :erf => 3, :tanh => 4, :sigmoid => 5,
    :softplus => 6, :gelu => 7, :sin => 8, :cos => 9)

# ---------------------------------------------------------------------------------------------
# Errors

"""
    NTKError(status, name, msg)

A failed library call: `status` is the `ntk_status` code, `name` its name
(`"NTK_STATUS_INVALID_ARGUMENT"`, ...), `msg` the library's `ntk_last_error()` message.
"""
struct NTKError <: Exception
    status::Int
    name::String
    msg::String
end
Base.showerror(io::IO, e::NTKError) = print(io, "NTKError (", e.name, "): ", e.msg)

status_name(status::Integer) =
    unsafe_string(ccall((:ntk_status_str, libntk), Cstring, (Cint,), status))

# The message is copied right after the failed call, on the same thread.
function _check(status::Integer)
    if status != 0
        msg = unsafe_string(ccall((:ntk_last_error, libntk), Cstring, ()))
        throw(NTKError(Int(status), status_name(status), msg))
    end
    return nothing
end

"Library version string (\"MAJOR.MINOR.PATCH\")."
version() = VersionNumber(unsafe_string(ccall((:ntk_version, libntk), Cstring, ())))

"Number of worker threads the library uses."
function num_threads()
    n = Ref{Csize_t}(0)
    _check(ccall((:ntk_get_num_threads, libntk), Cint, (Ref{Csize_t},), n))
    return Int(n[])
end

"Sets the library's worker thread count (0 = one per core)."
set_num_threads(n::Integer) =
    (n >= 0 || throw(ArgumentError("thread count must be >= 0")); _check(ccall((:ntk_set_num_threads, libntk), Cint, (Csize_t,), n)))

# ---------------------------------------------------------------------------------------------
# Network handle

"""
    Network(widths; activation = :relu, beta = 0.1, seed = 0, activation_param = 0.0)

A fully connected network in NTK parameterization with layer widths `widths = [n_0, …, n_L]`
and parameters drawn from the library's seeded N(0,1) stream. `activation` is a `Symbol`
(`:identity, :relu, :leaky_relu, :erf, :tanh, :sigmoid, :softplus, :gelu, :sin, :cos`) or the
raw `ntk_activation` integer. The handle is freed by a finalizer or explicitly with
[`close`](@ref); using a closed network throws an `ArgumentError`.
"""
mutable struct Network
    ptr::Ptr{Cvoid}
    widths::Vector{Int}
    function Network(ptr::Ptr{Cvoid}, widths::Vector{Int})
        net = new(ptr, widths)
        finalizer(_free!, net)
        return net
    end
end

function Network(widths::AbstractVector{<:Integer}; activation::Union{Symbol,Integer} = :relu,
                 beta::Real = 0.1, seed::Integer = 0, activation_param::Real = 0.0)
    w = Csize_t[x for x in widths]          # negative widths throw InexactError here
    act = activation isa Symbol ? get(ACTIVATIONS, activation) do
        throw(ArgumentError("unknown activation :$activation; one of $(sort(collect(keys(ACTIVATIONS))))"))
    end : Cint(activation)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve w begin
        cfg = CNetworkConfig(pointer(w), length(w), act, activation_param, beta, UInt64(seed),
                             C_NULL, C_NULL, C_NULL)
        _check(ccall((:ntk_network_create, libntk), Cint,
                     (Ref{CNetworkConfig}, Ref{Ptr{Cvoid}}), cfg, out))
    end
    return Network(out[], Int.(w))
end

function _free!(net::Network)
    if net.ptr != C_NULL
        ccall((:ntk_network_free, libntk), Cvoid, (Ptr{Cvoid},), net.ptr)
        net.ptr = C_NULL
    end
    return nothing
end

"""
    close(net::Network)

Frees the library handle now (idempotent). Later use of `net` throws an `ArgumentError`.
"""
Base.close(net::Network) = _free!(net)
Base.isopen(net::Network) = net.ptr != C_NULL

# `ccall` converts a Network argument with this; the object stays rooted during the call.
function Base.unsafe_convert(::Type{Ptr{Cvoid}}, net::Network)
    net.ptr == C_NULL && throw(ArgumentError("NTK.Network has been closed"))
    return net.ptr
end

function Base.show(io::IO, net::Network)
    print(io, "NTK.Network(", join(net.widths, "-"), isopen(net) ? "" : ", closed", ")")
end

"Copies the network (architecture and current parameters) into a new handle."
function Base.copy(net::Network)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    _check(ccall((:ntk_network_clone, libntk), Cint, (Ptr{Cvoid}, Ref{Ptr{Cvoid}}), net, out))
    return Network(out[], copy(net.widths))
end

function _shape(net::Network)
    d = Ref{Csize_t}(0)
    p = Ref{Csize_t}(0)
    _check(ccall((:ntk_network_shape, libntk), Cint, (Ptr{Cvoid}, Ref{Csize_t}, Ref{Csize_t}),
                 net, d, p))
    return Int(d[]), Int(p[])
end

"Number of weight layers L."
depth(net::Network) = _shape(net)[1]
"Number of parameters P = Σ n_{l+1}(n_l + 1)."
num_params(net::Network) = _shape(net)[2]
input_dim(net::Network) = net.widths[1]
output_dim(net::Network) = net.widths[end]

"""
    params!(theta, net) -> theta

Copies θ (W^(0) row-major, b^(0), W^(1), b^(1), …) into `theta` (length P).
"""
function params!(theta::Vector{Float64}, net::Network)
    _check(ccall((:ntk_network_get_params, libntk), Cint, (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t),
                 net, theta, length(theta)))
    return theta
end

"The parameters θ as a new vector (order: W^(0) row-major, b^(0), W^(1), b^(1), …)."
params(net::Network) = params!(Vector{Float64}(undef, num_params(net)), net)

"Replaces θ (same layout as [`params`](@ref)); the length must be P and values finite."
function set_params!(net::Network, theta::AbstractVector{<:Real})
    t = theta isa Vector{Float64} ? theta : Vector{Float64}(theta)
    _check(ccall((:ntk_network_set_params, libntk), Cint, (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t),
                 net, t, length(t)))
    return net
end

# ---------------------------------------------------------------------------------------------
# Strided views

"Matrices passed to the library without copying."
const PassedMatrix = Union{StridedMatrix{Float64},
                           Transpose{Float64,<:StridedMatrix{Float64}},
                           Adjoint{Float64,<:StridedMatrix{Float64}}}

_strides(A::StridedMatrix) = (stride(A, 1), stride(A, 2))
_strides(A::Union{Transpose,Adjoint}) = reverse(_strides(parent(A)))
_pointer(A::StridedMatrix{Float64}) = pointer(A)
_pointer(A::Union{Transpose,Adjoint}) = pointer(parent(A))
_root(A) = A isa Union{Transpose,Adjoint} ? parent(A) : A

# Only valid inside GC.@preserve of the array.
function _cmatrix(A::PassedMatrix)
    r, c = _strides(A)
    return CMatrix(_pointer(A), size(A, 1), size(A, 2), r, c)
end
function _cmatrix_mut(A::StridedMatrix{Float64})
    return CMatrixMut(pointer(A), size(A, 1), size(A, 2), stride(A, 1), stride(A, 2))
end

_input(A::PassedMatrix) = A
_input(A::AbstractMatrix{<:Real}) = Matrix{Float64}(A)   # other types: one converting copy
_input(A::AbstractVector{<:Real}) = _input(reshape(collect(A), 1, :))  # one point

"""
    forward!(out, net, X) -> out

Writes f_θ(X) for the `N` rows of `X` (`N × n_0`) into `out` (`N × n_L`, any strided
`Matrix`/`SubArray` of Float64, filled in place). `X` is passed without copying when it is a
strided Float64 matrix (or a transpose of one).
"""
function forward!(out::StridedMatrix{Float64}, net::Network, X::AbstractVecOrMat{<:Real})
    Xp = _input(X)
    root_x, root_o = _root(Xp), out
    GC.@preserve root_x root_o begin
        _check(ccall((:ntk_network_forward, libntk), Cint, (Ptr{Cvoid}, CMatrix, CMatrixMut),
                     net, _cmatrix(Xp), _cmatrix_mut(out)))
    end
    return out
end

"""
    forward(net, X) -> Matrix{Float64}

f_θ(X) for the rows of `X` (`N × n_0`): an `N × n_L` matrix.
"""
function forward(net::Network, X::AbstractVecOrMat{<:Real})
    n = X isa AbstractVector ? 1 : size(X, 1)
    return forward!(Matrix{Float64}(undef, n, output_dim(net)), net, X)
end

end # module
