"""
    NTK

Julia binding of the `ntk` C library (Neural Tangent Kernels, Jacot, Gabriel & Hongler 2018).

The shared library is located when the module is loaded (`__init__`, so the package
precompiles and a changed setting takes effect at the next `using NTK`), in this order:

1. `ENV["NTK_LIB"]`: a path to `libntk.so`;
2. the setting saved by [`NTK.set_library!`](@ref) (a file in the first depot,
   `~/.julia/prefs/NTK_LIB`);
3. the system library path: `libntk.so.$(LIBNTK_MAJOR)` (the SONAME) through the dynamic
   loader (`ldconfig`, `LD_LIBRARY_PATH`), e.g. after `scripts/install.sh /usr/local`;

otherwise `using NTK` fails with a message saying what to do. [`NTK.library_path`](@ref) gives
the file in use.

Conventions (as in the C API): points are ROWS, so an input batch is an `N × n_0` matrix.
Julia matrices are column-major and are passed to the library as strided views
(`row_stride = stride(A, 1)`, `col_stride = stride(A, 2)`) without copying; so are strided
`SubArray`s (`view(A, 1:2:9, 2:4)`, reversed ranges) and `transpose`/`adjoint` of those.
Outputs are allocated in Julia and filled in place by the library. Failed calls throw an
[`NTKError`](@ref) carrying the library's message; outputs are then left untouched.

Functionality: [`Network`](@ref) (`forward`, `network_params`, `set_params!`, `copy`, `close`),
infinite-width kernels [`kernel_limit`](@ref) / [`kernel_limits`](@ref), empirical kernels
[`kernel_empirical`](@ref) and [`network_jacobian`](@ref), kernel gradient flows [`Flow`](@ref)
(`flow_step!`, `set_time!`, `time`, `outputs`, `flow_predict`, `flow_loss`), gradient descent
[`train!`](@ref), and [`kernel_spectrum`](@ref) / [`kernel_condition`](@ref). Each function
returning a matrix has a `!` variant filling a given (possibly strided) output in place.
Long computations accept `progress = (done, total) -> Bool` (called on the calling thread;
return `true` to cancel). Names are prefixed (`network_…`, `flow_…`) where the plain word is a
generic of Base or of common packages (`params`, `predict`, `loss`, `jacobian`, `step!`).

Custom activations (C function pointers) are not exposed: the library calls them from its own
worker threads, which must not run Julia code.
"""
module NTK

using Libdl
using LinearAlgebra: Transpose, Adjoint

export Network, NTKError, forward, forward!, network_params, network_params!, set_params!, depth, num_params,
       input_dim, output_dim, num_threads, set_num_threads,
       kernel_limit, kernel_limit!, kernel_limits, kernel_empirical, kernel_empirical!, network_jacobian, network_jacobian!,
       Flow, flow_step!, set_time!, outputs, outputs!, flow_predict, flow_predict!, flow_loss,
       train!, kernel_spectrum, kernel_condition

"Major version of the C library this package is written for (its SONAME is `libntk.so.MAJOR`)."
const LIBNTK_MAJOR = 0

"""
    libntk

The library name every `ccall((:ntk_..., libntk), ...)` of this package uses: the SONAME
`"libntk.so.$(LIBNTK_MAJOR)"`, a constant as Julia 1.5's `ccall` requires. `__init__` first
`dlopen`s the file found by the lookup order (see [`NTK`](@ref)), so the dynamic loader resolves
this name to that already loaded library, wherever it lives (the pattern of Julia 1.3-1.5 JLL
packages; it works the same on 1.6-1.11).
"""
const libntk = "libntk.so.$(LIBNTK_MAJOR)"

const _LIBRARY_PATH = Ref{String}("")
const _LIBRARY_HANDLE = Ref{Ptr{Cvoid}}(C_NULL)

"""
    NTK.library_path() -> String

The path of the `libntk` shared library loaded by this session.
"""
library_path() = _LIBRARY_PATH[]

_settings_file() = joinpath(first(DEPOT_PATH), "prefs", "NTK_LIB")

"""
    NTK.set_library!(path)
    NTK.set_library!(nothing)

Saves `path` (a `libntk.so`) as the library to load from the next `using NTK` on (in
`~/.julia/prefs/NTK_LIB`; `ENV["NTK_LIB"]` still takes precedence); `nothing` removes the setting.
"""
function set_library!(path::Union{AbstractString,Nothing})
    file = _settings_file()
    if path === nothing
        rm(file; force = true)
    else
        isfile(path) || throw(ArgumentError("$(repr(path)) is not a file"))
        mkpath(dirname(file))
        write(file, abspath(path))
    end
    return nothing
end

function _library_candidates()
    env = get(ENV, "NTK_LIB", "")
    isempty(env) || return [("ENV[\"NTK_LIB\"]", env)]
    out = Tuple{String,String}[]
    file = _settings_file()
    if isfile(file)
        p = strip(read(file, String))
        isempty(p) || push!(out, ("the setting in $file", p))
    end
    push!(out, ("the system library path", libntk))
    return out
end

function _load_library()
    tried = String[]
    for (origin, path) in _library_candidates()
        if origin != "the system library path" && !isfile(path)
            error("NTK: $origin is $(repr(path)), which is not a file. Point it at a built libntk.so " *
                  "(cargo build --release writes target/release/libntk.so) or unset it.")
        end
        h = Libdl.dlopen(path, Libdl.RTLD_LAZY | Libdl.RTLD_GLOBAL; throw_error = false)
        if h === nothing
            push!(tried, "  $origin: $path could not be loaded")
            continue
        end
        # Every ccall names the SONAME; it must resolve to this very file.
        h2 = Libdl.dlopen(libntk; throw_error = false)
        if h2 === nothing || Libdl.dlsym(h2, :ntk_version) != Libdl.dlsym(h, :ntk_version)
            error("NTK: $path ($origin) was loaded but its SONAME is not $libntk; build it with " *
                  "`cargo build --release` (build.rs sets the SONAME) or install it with scripts/install.sh")
        end
        _LIBRARY_HANDLE[] = h
        _LIBRARY_PATH[] = path == libntk ? Libdl.dlpath(h) : abspath(path)
        return
    end
    error("NTK: libntk not found.\n" * join(tried, "\n") * "\nInstall the C library " *
          "(scripts/install.sh PREFIX, then ldconfig or LD_LIBRARY_PATH=PREFIX/lib), " *
          "or set ENV[\"NTK_LIB\"] = \"/path/to/libntk.so\" before `using NTK`, " *
          "or save it once with NTK.set_library!(\"/path/to/libntk.so\").")
end

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

# Every library handle (Network, Flow) is a mutable struct with a `ptr` field; `_release`
# calls the matching C free function (a `ccall` name must be a literal in Julia 1.5).
abstract type Handle end

function _free!(h::Handle)
    if h.ptr != C_NULL
        _release(h)
        h.ptr = C_NULL
    end
    return nothing
end

"""
    close(h)

Frees the library handle of a `Network` or `Flow` now (idempotent). Later use throws an
`ArgumentError`.
"""
Base.close(h::Handle) = _free!(h)
Base.isopen(h::Handle) = h.ptr != C_NULL

# `ccall` converts a handle argument with this; the object stays rooted during the call.
function Base.unsafe_convert(::Type{Ptr{Cvoid}}, h::Handle)
    h.ptr == C_NULL && throw(ArgumentError("NTK.$(nameof(typeof(h))) has been closed"))
    return h.ptr
end

"""
    Network(widths; activation = :relu, beta = 0.1, seed = 0, activation_param = 0.0)

A fully connected network in NTK parameterization with layer widths `widths = [n_0, …, n_L]`
and parameters drawn from the library's seeded N(0,1) stream. `activation` is a `Symbol`
(`:identity, :relu, :leaky_relu, :erf, :tanh, :sigmoid, :softplus, :gelu, :sin, :cos`) or the
raw `ntk_activation` integer. The handle is freed by a finalizer or explicitly with
[`close`](@ref); using a closed network throws an `ArgumentError`.
"""
mutable struct Network <: Handle
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

_release(net::Network) = ccall((:ntk_network_free, libntk), Cvoid, (Ptr{Cvoid},), net.ptr)

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
    network_params!(theta, net) -> theta

Copies θ (W^(0) row-major, b^(0), W^(1), b^(1), …) into `theta` (length P).
"""
function network_params!(theta::Vector{Float64}, net::Network)
    _check(ccall((:ntk_network_get_params, libntk), Cint, (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t),
                 net, theta, length(theta)))
    return theta
end

"The parameters θ as a new vector (order: W^(0) row-major, b^(0), W^(1), b^(1), …)."
network_params(net::Network) = network_params!(Vector{Float64}(undef, num_params(net)), net)

"Replaces θ (same layout as [`network_params`](@ref)); the length must be P and values finite."
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

# ---------------------------------------------------------------------------------------------
# Enums and options

"Values of the C enum `ntk_kernel_mode` by name."
const KERNEL_MODES = Dict{Symbol,Cint}(:trace => 0, :full => 1)
"Values of the C enum `ntk_kernel_method` by name."
const KERNEL_METHODS = Dict{Symbol,Cint}(:auto => 0, :jacobian => 1, :structured => 2)
"Values of the C enum `ntk_cost` by name."
const COSTS = Dict{Symbol,Cint}(:mse => 0, :cross_entropy => 1)
"Values of the C enum `ntk_flow_method` by name."
const FLOW_METHODS = Dict{Symbol,Cint}(:auto => 0, :eigen => 1, :krylov => 2, :ode => 3)
"Values of the C enum `ntk_spectrum_which` by name."
const SPECTRUM_WHICH = Dict{Symbol,Cint}(:all => 0, :smallest => 1, :largest => 2)

# A Symbol looked up in `table`, or a raw integer passed through (the library validates it).
function _enum(table::Dict{Symbol,Cint}, v::Union{Symbol,Integer}, what::String)
    v isa Integer && return Cint(v)
    return get(table, v) do
        throw(ArgumentError("unknown $what :$v; one of $(sort(collect(keys(table))))"))
    end
end

struct COptions           # ntk_options
    progress::Ptr{Cvoid}
    user_data::Ptr{Cvoid}
end

struct CFlowOptions       # ntk_flow_options
    method::Cint
    rtol::Cdouble
    atol::Cdouble
    krylov_tol::Cdouble
end

# Progress callbacks run on the calling thread between units of work (never on a worker thread),
# so a Julia function is safe here. `user_data` points at a Ref holding the Julia function; an
# exception inside it cancels the call (it must not unwind through the library) and is rethrown.
mutable struct _ProgressState
    f::Any
    err::Any
end
function _progress_trampoline(user_data::Ptr{Cvoid}, done::UInt64, total::UInt64)::Cint
    st = unsafe_pointer_to_objref(user_data)::_ProgressState
    try
        return st.f(Int(done), Int(total)) === true ? Cint(1) : Cint(0)
    catch e
        st.err = e
        return Cint(1)
    end
end
const _PROGRESS_FN = Ref{Ptr{Cvoid}}(C_NULL)
function __init__()
    _load_library()
    v = VersionNumber(unsafe_string(ccall((:ntk_version, libntk), Cstring, ())))
    v.major == LIBNTK_MAJOR || error("NTK: $(library_path()) is version $v, this package needs $(LIBNTK_MAJOR).x")
    _PROGRESS_FN[] = @cfunction(_progress_trampoline, Cint, (Ptr{Cvoid}, UInt64, UInt64))
end

# Runs `call(options_ptr)` with an ntk_options built from `progress` (nothing: NULL options).
function _with_progress(call, progress)
    progress === nothing && return call(Ptr{COptions}(C_NULL))
    st = _ProgressState(progress, nothing)
    GC.@preserve st begin
        opts = Ref(COptions(_PROGRESS_FN[], pointer_from_objref(st)))
        status = call(opts)
    end
    st.err === nothing || throw(st.err)
    return status
end

# ---------------------------------------------------------------------------------------------
# Infinite-width kernels

"""
    kernel_limit!(net, X1, X2 = nothing; nngp = nothing, sigma_dot = nothing, ntk = nothing,
                  progress = nothing) -> (nngp, sigma_dot, ntk)

Fills the given `N1 × N2` outputs (any subset, at least one) with the infinite-width kernels of
the architecture of `net` (only n_0, the depth L, the activation and β are used): the NNGP
Σ^(L), Σ̇^(L) and the NTK Θ^(L) = Θ_∞ between the rows of `X1` and of `X2` (`nothing`:
`X2 = X1`, exactly symmetric results). Closed forms for ReLU, leaky ReLU, erf, identity, sin,
cos; an adaptive numerical method (relative error ~1e-12) otherwise.
"""
function kernel_limit!(net::Network, X1::AbstractVecOrMat{<:Real},
                       X2::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing;
                       nngp::Union{Nothing,StridedMatrix{Float64}} = nothing,
                       sigma_dot::Union{Nothing,StridedMatrix{Float64}} = nothing,
                       ntk::Union{Nothing,StridedMatrix{Float64}} = nothing, progress = nothing)
    A = _input(X1)
    B = X2 === nothing ? nothing : _input(X2)
    roots = (_root(A), B === nothing ? nothing : _root(B), nngp, sigma_dot, ntk)
    opt(M) = M === nothing ? Ptr{CMatrixMut}(C_NULL) : Ref(_cmatrix_mut(M))
    GC.@preserve roots begin
        x2 = B === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(B))
        o1, o2, o3 = opt(nngp), opt(sigma_dot), opt(ntk)
        status = _with_progress(progress) do opts
            ccall((:ntk_kernel_limit, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, Ptr{CMatrix}, Ptr{CMatrixMut}, Ptr{CMatrixMut},
                   Ptr{CMatrixMut}, Ptr{COptions}),
                  net, _cmatrix(A), x2, o1, o2, o3, opts)
        end
        _check(status)
    end
    return (nngp = nngp, sigma_dot = sigma_dot, ntk = ntk)
end

"""
    kernel_limit(net, X1, X2 = nothing; kernel = :ntk, progress = nothing) -> Matrix{Float64}

One infinite-width kernel (`kernel = :ntk` for Θ_∞, `:nngp` for Σ^(L), `:sigma_dot` for
Σ̇^(L)) as a new `N1 × N2` matrix; see [`kernel_limit!`](@ref).
"""
function kernel_limit(net::Network, X1::AbstractVecOrMat{<:Real},
                      X2::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing;
                      kernel::Symbol = :ntk, progress = nothing)
    kernel in (:ntk, :nngp, :sigma_dot) ||
        throw(ArgumentError("unknown kernel :$kernel; one of [:nngp, :ntk, :sigma_dot]"))
    out = Matrix{Float64}(undef, _nrows(X1), X2 === nothing ? _nrows(X1) : _nrows(X2))
    kernel_limit!(net, X1, X2; (kernel => out,)..., progress = progress)
    return out
end

"""
    kernel_limits(net, X1, X2 = nothing; progress = nothing) -> (nngp, sigma_dot, ntk)

All three infinite-width kernels in one pass, as new matrices in a named tuple.
"""
function kernel_limits(net::Network, X1::AbstractVecOrMat{<:Real},
                       X2::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing; progress = nothing)
    n1 = _nrows(X1)
    n2 = X2 === nothing ? n1 : _nrows(X2)
    return kernel_limit!(net, X1, X2; nngp = Matrix{Float64}(undef, n1, n2),
                         sigma_dot = Matrix{Float64}(undef, n1, n2),
                         ntk = Matrix{Float64}(undef, n1, n2), progress = progress)
end

# ---------------------------------------------------------------------------------------------
# Empirical kernels and the Jacobian

_nrows(X::AbstractVector) = 1
_nrows(X::AbstractMatrix) = size(X, 1)

"""
    kernel_empirical!(out, net, X1, X2 = nothing; mode = :trace, method = :auto, progress = nothing) -> out

Empirical (finite-width) NTK of `net` at its current parameters,
Θ_ab(x, x') = Σ_p ∂f_a(x)/∂θ_p ∂f_b(x')/∂θ_p, between the rows of `X1` (`N1 × n_0`) and of `X2`
(`N2 × n_0`; `nothing` for `X2 = X1`, then the result is exactly symmetric).

- `mode = :trace`: `out` is `N1 × N2` with (1/n_L) Σ_a Θ_aa(x1_i, x2_j) (what converges to Θ_∞);
- `mode = :full`: `out` is `(N1 n_L) × (N2 n_L)`, entry `((i-1) n_L + a, (j-1) n_L + b)` = Θ_ab.
- `method`: `:auto`, `:jacobian` (J1 J2ᵀ) or `:structured` (per layer, no Jacobian formed).
- `progress`: `nothing` or a function `(done, total) -> Bool` called on this thread between
  blocks; returning `true` cancels (an `NTKError` with status `NTK_STATUS_CANCELLED`).

`X1`, `X2` and `out` are passed without copying (strided views included).
"""
function kernel_empirical!(out::StridedMatrix{Float64}, net::Network, X1::AbstractVecOrMat{<:Real},
                           X2::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing;
                           mode::Union{Symbol,Integer} = :trace,
                           method::Union{Symbol,Integer} = :auto, progress = nothing)
    m = _enum(KERNEL_MODES, mode, "kernel mode")
    me = _enum(KERNEL_METHODS, method, "kernel method")
    A = _input(X1)
    B = X2 === nothing ? nothing : _input(X2)
    ra, rb, ro = _root(A), (B === nothing ? nothing : _root(B)), out
    GC.@preserve ra rb ro begin
        x2 = B === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(B))
        status = _with_progress(progress) do opts
            ccall((:ntk_kernel_empirical, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, Ptr{CMatrix}, Cint, Cint, CMatrixMut, Ptr{COptions}),
                  net, _cmatrix(A), x2, m, me, _cmatrix_mut(out), opts)
        end
        _check(status)
    end
    return out
end

"""
    kernel_empirical(net, X1, X2 = nothing; mode = :trace, method = :auto, progress = nothing) -> Matrix{Float64}

The empirical NTK as a new matrix (`N1 × N2` for `:trace`, `(N1 n_L) × (N2 n_L)` for `:full`);
see [`kernel_empirical!`](@ref).
"""
function kernel_empirical(net::Network, X1::AbstractVecOrMat{<:Real},
                          X2::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing;
                          mode::Union{Symbol,Integer} = :trace, kwargs...)
    n1 = _nrows(X1)
    n2 = X2 === nothing ? n1 : _nrows(X2)
    k = mode in (:full, 1) ? output_dim(net) : 1
    return kernel_empirical!(Matrix{Float64}(undef, n1 * k, n2 * k), net, X1, X2; mode = mode, kwargs...)
end

"""
    network_jacobian!(out, net, X; progress = nothing) -> out

Parameter Jacobian at the rows of `X`: `out` is `(N n_L) × P` with entry
`((i-1) n_L + a, p)` = ∂f_a(x_i)/∂θ_p, columns in the order of [`network_params`](@ref).
"""
function network_jacobian!(out::StridedMatrix{Float64}, net::Network, X::AbstractVecOrMat{<:Real}; progress = nothing)
    A = _input(X)
    ra, ro = _root(A), out
    GC.@preserve ra ro begin
        status = _with_progress(progress) do opts
            ccall((:ntk_network_jacobian, libntk), Cint, (Ptr{Cvoid}, CMatrix, CMatrixMut, Ptr{COptions}),
                  net, _cmatrix(A), _cmatrix_mut(out), opts)
        end
        _check(status)
    end
    return out
end

"The parameter Jacobian `(N n_L) × P` as a new matrix; see [`network_jacobian!`](@ref)."
network_jacobian(net::Network, X::AbstractVecOrMat{<:Real}; kwargs...) =
    network_jacobian!(Matrix{Float64}(undef, _nrows(X) * output_dim(net), num_params(net)), net, X; kwargs...)

# ---------------------------------------------------------------------------------------------
# Kernel gradient flows

"""
    Flow(K, Y, F0; test_kernel = nothing, test_f0 = nothing, cost = :mse, method = :auto,
         rtol = 0, atol = 0, krylov_tol = 0)

The kernel gradient flow d f_t(x)/dt = −(1/N) Σ_j K(x, x_j) d_j (d_j = ∂c/∂f at (f_t(x_j), y_j))
at t = 0: `K` is `N × N` (used as K ⊗ I_k) or `(N k) × (N k)`, `Y` and `F0` are `N × k`;
`test_kernel` (`M × N` or `(M k) × (N k)`) and `test_f0` (`M × k`) go together.
`cost`: `:mse` (exact closed form) or `:cross_entropy` (softmax; integrated). `method`: `:auto`,
`:eigen`, `:krylov`, `:ode`; tolerances ≤ 0 mean the library defaults. All inputs are copied by
the library. After t = s·η the outputs equal those of s gradient-descent steps of rate η in the
infinite-width limit.

The handle is freed by a finalizer or by [`close`](@ref); a closed flow throws `ArgumentError`.
Operations: [`flow_step!`](@ref), [`set_time!`](@ref), `time(flow)`, [`outputs`](@ref),
[`flow_predict`](@ref), [`flow_loss`](@ref).
"""
mutable struct Flow <: Handle
    ptr::Ptr{Cvoid}
    n::Int      # training points
    k::Int      # outputs per point
    m::Int      # test points (0: none)
    function Flow(ptr::Ptr{Cvoid}, n::Int, k::Int, m::Int)
        f = new(ptr, n, k, m)
        finalizer(_free!, f)
        return f
    end
end

function Flow(K::AbstractMatrix{<:Real}, Y::AbstractVecOrMat{<:Real}, F0::AbstractVecOrMat{<:Real};
              test_kernel::Union{Nothing,AbstractMatrix{<:Real}} = nothing,
              test_f0::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing,
              cost::Union{Symbol,Integer} = :mse, method::Union{Symbol,Integer} = :auto,
              rtol::Real = 0.0, atol::Real = 0.0, krylov_tol::Real = 0.0)
    c = _enum(COSTS, cost, "cost")
    opts = Ref(CFlowOptions(_enum(FLOW_METHODS, method, "flow method"), rtol, atol, krylov_tol))
    # a vector of targets is one output per point (an N × 1 matrix)
    col(v) = v isa AbstractVector ? reshape(v, :, 1) : v
    Kp, Yp, Fp = _input(K), _input(col(Y)), _input(col(F0))
    TK = test_kernel === nothing ? nothing : _input(test_kernel)
    TF = test_f0 === nothing ? nothing : _input(col(test_f0))
    roots = (_root(Kp), _root(Yp), _root(Fp), TK === nothing ? nothing : _root(TK),
             TF === nothing ? nothing : _root(TF))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve roots begin
        tk = TK === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(TK))
        tf = TF === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(TF))
        _check(ccall((:ntk_flow_create, libntk), Cint,
                     (CMatrix, CMatrix, CMatrix, Ptr{CMatrix}, Ptr{CMatrix}, Cint, Ref{CFlowOptions},
                      Ref{Ptr{Cvoid}}),
                     _cmatrix(Kp), _cmatrix(Yp), _cmatrix(Fp), tk, tf, c, opts, out))
    end
    return Flow(out[], size(Yp, 1), size(Yp, 2), TF === nothing ? 0 : size(TF, 1))
end

_release(f::Flow) = ccall((:ntk_flow_free, libntk), Cvoid, (Ptr{Cvoid},), f.ptr)

function Base.show(io::IO, f::Flow)
    print(io, "NTK.Flow(N = ", f.n, ", k = ", f.k, f.m > 0 ? ", M = $(f.m)" : "",
          isopen(f) ? ", t = $(time(f))" : ", closed", ")")
end

"""
    flow_step!(flow, dt; progress = nothing) -> flow

Advances the flow by `dt > 0` (mutates it; unchanged on any error, including a cancel).
`progress` as for [`set_time!`](@ref).
"""
function flow_step!(f::Flow, dt::Real; progress = nothing)
    status = _with_progress(progress) do opts
        ccall((:ntk_flow_step, libntk), Cint, (Ptr{Cvoid}, Cdouble, Ptr{COptions}), f, dt, opts)
    end
    _check(status)
    return f
end

"""
    set_time!(flow, t; progress = nothing) -> flow

Moves the flow to the absolute time `t ≥ 0` (`Inf` for MSE: kernel regression).
`progress`: `nothing` or `(done, total) -> Bool` (return `true` to cancel: `NTKError` with
status 5 and the flow unchanged). The ODE method (cross-entropy) reports the fraction of the
interval integrated as `(done, 1_000_000)` every few steps; the closed-form MSE paths report
`(0, 1)` and `(1, 1)`. Hopelessly stiff ODE requests fail fast with status 6 (NUMERICAL).
"""
function set_time!(f::Flow, t::Real; progress = nothing)
    status = _with_progress(progress) do opts
        ccall((:ntk_flow_set_time, libntk), Cint, (Ptr{Cvoid}, Cdouble, Ptr{COptions}), f, t, opts)
    end
    _check(status)
    return f
end

"The current time of the flow."
function Base.time(f::Flow)
    t = Ref{Cdouble}(NaN)
    _check(ccall((:ntk_flow_time, libntk), Cint, (Ptr{Cvoid}, Ref{Cdouble}), f, t))
    return t[]
end

"Writes the training outputs f_t(x_i) (`N × k`) into `out`."
function outputs!(out::StridedMatrix{Float64}, f::Flow)
    GC.@preserve out _check(ccall((:ntk_flow_outputs, libntk), Cint, (Ptr{Cvoid}, CMatrixMut), f,
                                  _cmatrix_mut(out)))
    return out
end
"The training outputs f_t(x_i) as a new `N × k` matrix."
outputs(f::Flow) = outputs!(Matrix{Float64}(undef, f.n, f.k), f)

"Writes the test outputs f_t(x*_i) (`M × k`) into `out`; an error when the flow has no test kernel."
function flow_predict!(out::StridedMatrix{Float64}, f::Flow)
    GC.@preserve out _check(ccall((:ntk_flow_predict, libntk), Cint, (Ptr{Cvoid}, CMatrixMut), f,
                                  _cmatrix_mut(out)))
    return out
end
"The test outputs f_t(x*_i) as a new `M × k` matrix."
flow_predict(f::Flow) = flow_predict!(Matrix{Float64}(undef, f.m, f.k), f)

"The loss C(f_t) = (1/N) Σ_i c(f_t(x_i), y_i)."
function flow_loss(f::Flow)
    l = Ref{Cdouble}(NaN)
    _check(ccall((:ntk_flow_loss, libntk), Cint, (Ptr{Cvoid}, Ref{Cdouble}), f, l))
    return l[]
end

# ---------------------------------------------------------------------------------------------
# Training

"""
    train!(net, X, Y; learning_rate, steps, cost = :mse, progress = nothing) -> Vector{Float64}

Full-batch gradient descent on C(θ) = (1/N) Σ_i c(f_θ(x_i), y_i): `steps` updates
θ ← θ − η ∇C (η = `learning_rate`). Returns the loss history (length `steps + 1`; entry s is
C(θ_s)). `progress(done, total)` is called before each step; returning `true` cancels (an
`NTKError` with status `NTK_STATUS_CANCELLED`; the network then holds the completed steps).
"""
function train!(net::Network, X::AbstractVecOrMat{<:Real}, Y::AbstractVecOrMat{<:Real};
                learning_rate::Real, steps::Integer, cost::Union{Symbol,Integer} = :mse,
                progress = nothing)
    steps >= 0 || throw(ArgumentError("steps must be >= 0"))
    c = _enum(COSTS, cost, "cost")
    A = _input(X)
    B = _input(Y isa AbstractVector ? reshape(Y, :, 1) : Y)
    history = fill(NaN, steps + 1)
    ra, rb = _root(A), _root(B)
    GC.@preserve ra rb history begin
        status = _with_progress(progress) do opts
            ccall((:ntk_network_train, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, CMatrix, Cint, Cdouble, Csize_t, Ptr{Cdouble}, Ptr{COptions}),
                  net, _cmatrix(A), _cmatrix(B), c, learning_rate, steps, history, opts)
        end
        _check(status)
    end
    return history
end

# ---------------------------------------------------------------------------------------------
# Spectrum diagnostics

"""
    kernel_spectrum(K; which = :all, count = size(K, 1)) -> Vector{Float64}

Eigenvalues of the symmetric kernel matrix `K`: `:all` (ascending), the `count` `:smallest`
(ascending) or the `count` `:largest` (descending).
"""
function kernel_spectrum(K::AbstractMatrix{<:Real}; which::Union{Symbol,Integer} = :all,
                         count::Integer = size(K, 1))
    w = _enum(SPECTRUM_WHICH, which, "spectrum selection")
    count >= 0 || throw(ArgumentError("count must be >= 0"))   # 0 is reported by the library
    A = _input(K)
    ev = Vector{Float64}(undef, count)
    ra = _root(A)
    GC.@preserve ra ev begin
        _check(ccall((:ntk_kernel_spectrum, libntk), Cint, (CMatrix, Ptr{Cdouble}, Csize_t, Cint),
                     _cmatrix(A), ev, count, w))
    end
    return ev
end

"""
    kernel_condition(K) -> (lambda_min, lambda_max, condition)

Smallest and largest eigenvalues of the symmetric `K` and λ_max/λ_min (`Inf` when λ_min ≤ 0).
"""
function kernel_condition(K::AbstractMatrix{<:Real})
    A = _input(K)
    lo, hi, c = Ref{Cdouble}(NaN), Ref{Cdouble}(NaN), Ref{Cdouble}(NaN)
    ra = _root(A)
    GC.@preserve ra _check(ccall((:ntk_kernel_condition, libntk), Cint,
                                 (CMatrix, Ref{Cdouble}, Ref{Cdouble}, Ref{Cdouble}), _cmatrix(A), lo, hi, c))
    return (lambda_min = lo[], lambda_max = hi[], condition = c[])
end

include("predict.jl")
include("solve.jl")

end # module
