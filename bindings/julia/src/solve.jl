# Large-N kernel regression: the library's matrix-free preconditioned CG solver (ntk_solver_*).
# Included from NTK.jl.

export KernelSolver, kernel_regression, kernel_regression!, kernel_predict, kernel_predict!,
       solver_info, solver_progress

struct CSolverConfig      # ntk_solver_config
    kernel::Cint
    cache_bytes::Csize_t
    precond_rank::Csize_t
end

struct CSolveInfo         # ntk_solve_info
    iterations::Csize_t
    kernel_passes::Csize_t
    residual::Cdouble
end

"Values of the C enum `ntk_solver_kernel` by name."
const SOLVER_KERNELS = Dict{Symbol,Cint}(:ntk => 0, :nngp => 1, :empirical => 2)

"""
    KernelSolver(net, X; kernel = :ntk, rank = 100, cache_bytes = 0, progress = nothing)

Prepares kernel regression on the `N` training points `X` (`N × n_0`) without ever forming the
`N × N` kernel: the per-point data, the diagonal, an optional cache of the first rows of K
(`cache_bytes`, 0 = matrix-free) and a rank-`rank` pivoted-Cholesky preconditioner
(8·N·rank bytes; 0 = plain CG). `kernel`: `:ntk` (limit Θ_∞), `:nngp` (limit Σ^(L)) or
`:empirical` (trace-mode empirical NTK of `net` at its current parameters, copied). Solve with
[`kernel_regression`](@ref), predict with [`kernel_predict`](@ref); freed by a finalizer or
`close`.
"""
mutable struct KernelSolver <: Handle
    ptr::Ptr{Cvoid}
    n::Int
    n0::Int
    function KernelSolver(ptr::Ptr{Cvoid}, n::Int, n0::Int)
        s = new(ptr, n, n0)
        finalizer(_free!, s)
        return s
    end
end

function KernelSolver(net::Network, X::AbstractMatrix{<:Real}; kernel::Union{Symbol,Integer} = :ntk,
                      rank::Integer = 100, cache_bytes::Integer = 0, progress = nothing)
    rank >= 0 || throw(ArgumentError("rank must be >= 0"))
    cache_bytes >= 0 || throw(ArgumentError("cache_bytes must be >= 0"))
    cfg = Ref(CSolverConfig(_enum(SOLVER_KERNELS, kernel, "solver kernel"), cache_bytes, rank))
    A = _input(X)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    ra = _root(A)
    GC.@preserve ra begin
        status = _with_progress(progress) do opts
            ccall((:ntk_solver_create, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, Ref{CSolverConfig}, Ptr{COptions}, Ref{Ptr{Cvoid}}),
                  net, _cmatrix(A), cfg, opts, out)
        end
        _check(status)
    end
    return KernelSolver(out[], size(A, 1), size(A, 2))
end

_release(s::KernelSolver) = ccall((:ntk_solver_free, libntk), Cvoid, (Ptr{Cvoid},), s.ptr)

"""
    solver_info(s) -> (num_points, rank, cached_rows, trace, trace_residual)

N, the preconditioner's rank as built, the rows of K cached, tr(K) and tr(K − L Lᵀ).
"""
function solver_info(s::KernelSolver)
    n, r, c = Ref{Csize_t}(0), Ref{Csize_t}(0), Ref{Csize_t}(0)
    t, tr = Ref{Cdouble}(NaN), Ref{Cdouble}(NaN)
    _check(ccall((:ntk_solver_describe, libntk), Cint,
                 (Ptr{Cvoid}, Ref{Csize_t}, Ref{Csize_t}, Ref{Csize_t}, Ref{Cdouble}, Ref{Cdouble}),
                 s, n, r, c, t, tr))
    return (num_points = Int(n[]), rank = Int(r[]), cached_rows = Int(c[]), trace = t[],
            trace_residual = tr[])
end

"""
    solver_progress(s) -> (iteration, residual)

The latest iteration and relative residual of a running [`kernel_regression`](@ref) on `s`
(for use inside its `progress` callback).
"""
function solver_progress(s::KernelSolver)
    it, r = Ref{Csize_t}(0), Ref{Cdouble}(NaN)
    _check(ccall((:ntk_solver_progress, libntk), Cint, (Ptr{Cvoid}, Ref{Csize_t}, Ref{Cdouble}),
                 s, it, r))
    return (iteration = Int(it[]), residual = r[])
end

"""
    kernel_regression!(alpha, s, Y; lambda = 0.0, rtol = 1e-10, max_iterations = 1000,
                       progress = nothing) -> (alpha, iterations, kernel_passes, residual)

Solves (K + λI) α = Y for the columns of `Y` (`N × k`) into `alpha` (`N × k`, filled in place)
by preconditioned CG: k independent recurrences sharing each kernel pass, stopping when every
column's true relative residual ‖y − (K + λI)α‖/‖y‖ ≤ `rtol`. Not converging within
`max_iterations` throws an `NTKError` (NUMERICAL) naming the residual reached; `alpha` is then
untouched. `progress = (iteration, max_iterations) -> Bool` (return `true` to cancel);
[`solver_progress`](@ref) gives the residual inside it.
"""
function kernel_regression!(alpha::StridedMatrix{Float64}, s::KernelSolver, Y::AbstractVecOrMat{<:Real};
                            lambda::Real = 0.0, rtol::Real = 1e-10, max_iterations::Integer = 1000,
                            progress = nothing)
    max_iterations >= 0 || throw(ArgumentError("max_iterations must be >= 0"))
    Yp = _input(Y isa AbstractVector ? reshape(Y, :, 1) : Y)
    info = Ref(CSolveInfo(0, 0, NaN))
    ry = _root(Yp)
    GC.@preserve ry alpha begin
        status = _with_progress(progress) do opts
            ccall((:ntk_solver_solve, libntk), Cint,
                  (Ptr{Cvoid}, Cdouble, CMatrix, Cdouble, Csize_t, CMatrixMut, Ref{CSolveInfo}, Ptr{COptions}),
                  s, lambda, _cmatrix(Yp), rtol, max_iterations, _cmatrix_mut(alpha), info, opts)
        end
        _check(status)
    end
    return (alpha = alpha, iterations = Int(info[].iterations), kernel_passes = Int(info[].kernel_passes),
            residual = info[].residual)
end

"""
    kernel_regression(s, Y; lambda = 0.0, rtol = 1e-10, max_iterations = 1000, progress = nothing)
        -> (alpha, iterations, kernel_passes, residual)

[`kernel_regression!`](@ref) into a new `alpha` (a vector when `Y` is a vector).
"""
function kernel_regression(s::KernelSolver, Y::AbstractVecOrMat{<:Real}; kw...)
    k = Y isa AbstractVector ? 1 : size(Y, 2)
    r = kernel_regression!(Matrix{Float64}(undef, size(Y, 1), k), s, Y; kw...)
    a = Y isa AbstractVector ? vec(r.alpha) : r.alpha
    return (alpha = a, iterations = r.iterations, kernel_passes = r.kernel_passes, residual = r.residual)
end

"""
    kernel_predict!(out, s, Xtest, alpha; progress = nothing) -> out

`out` (`M × k`) = K(X*, X) α for the rows of `Xtest` (`M × n_0`), streamed in tiles (memory
independent of M).
"""
function kernel_predict!(out::StridedMatrix{Float64}, s::KernelSolver, Xtest::AbstractMatrix{<:Real},
                         alpha::AbstractVecOrMat{<:Real}; progress = nothing)
    A = _input(Xtest)
    B = _input(alpha isa AbstractVector ? reshape(alpha, :, 1) : alpha)
    ra, rb = _root(A), _root(B)
    GC.@preserve ra rb out begin
        status = _with_progress(progress) do opts
            ccall((:ntk_solver_predict, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, CMatrix, CMatrixMut, Ptr{COptions}),
                  s, _cmatrix(A), _cmatrix(B), _cmatrix_mut(out), opts)
        end
        _check(status)
    end
    return out
end

"""
    kernel_predict(s, Xtest, alpha; progress = nothing)

K(X*, X) α as a new `M × k` matrix (a vector when `alpha` is a vector).
"""
function kernel_predict(s::KernelSolver, Xtest::AbstractMatrix{<:Real}, alpha::AbstractVecOrMat{<:Real};
                        progress = nothing)
    k = alpha isa AbstractVector ? 1 : size(alpha, 2)
    out = kernel_predict!(Matrix{Float64}(undef, size(Xtest, 1), k), s, Xtest, alpha; progress = progress)
    return alpha isa AbstractVector ? vec(out) : out
end

function Base.show(io::IO, s::KernelSolver)
    if isopen(s)
        i = solver_info(s)
        print(io, "NTK.KernelSolver(N = ", i.num_points, ", rank = ", i.rank, ", cached rows = ",
              i.cached_rows, ")")
    else
        print(io, "NTK.KernelSolver(closed)")
    end
end
