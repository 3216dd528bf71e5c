# The trained infinite ensemble's predictive law (included from NTK.jl): ntk_predictor_*,
# ntk_ensemble_law. See docs/predict.md for the formulas.

export PredictiveLaw, PredictiveTestSet, ensemble_law

const LAWS = Dict{Symbol,Cint}(:ntk => 0, :nngp => 1)

struct CPredictConfig     # ntk_predict_config
    law::Cint
    ridge::Cdouble
    ridge_relative::Cint
end

_predict_config(law, ridge, ridge_relative) =
    Ref(CPredictConfig(_enum(LAWS, law, "law"), Float64(ridge), ridge_relative ? Cint(1) : Cint(0)))

"""
    PredictiveLaw(kernel_train, Y; nngp_train = nothing, law = :ntk, ridge = 0.0,
                  ridge_relative = false, progress = nothing)

The train side of the Gaussian law of the infinitely wide network trained by gradient flow on
the square loss for time t (t = s·η after s steps of rate η, as [`train!`](@ref) and
[`Flow`](@ref)). With K = K_xx + λI and Ψ_t = K⁻¹(I − e^{−Kt/N}):

- `law = :ntk` (`kernel_train` = Θ_xx; `nngp_train` = Σ_xx for covariances):
  mean Θ_*x Ψ_t Y, covariance Σ_** + Θ_*x Ψ_t Σ_xx Ψ_t Θ_x* − (Θ_*x Ψ_t Σ_x* + transpose);
- `law = :nngp` (`kernel_train` = Σ_xx, `nngp_train` must be `nothing`): Θ := Σ, at t = ∞ the
  Bayesian GP posterior.

`Y` is `N × k` (a vector: one output). `ridge = λ ≥ 0` (`ridge_relative = true`: λ·tr(K)/N, as
neural-tangents' default `diag_reg`). neural-tangents' `gradient_descent_mse_ensemble` at time
t·k gives the same law. One eigendecomposition (≈ 9N³ flops), reused by every
[`PredictiveTestSet`](@ref) and time. Freed by a finalizer or [`close`](@ref).
"""
mutable struct PredictiveLaw <: Handle
    ptr::Ptr{Cvoid}
    n::Int
    k::Int
    law::Symbol
    has_cov::Bool
    function PredictiveLaw(ptr::Ptr{Cvoid}, n::Int, k::Int, law::Symbol, has_cov::Bool)
        p = new(ptr, n, k, law, has_cov)
        finalizer(_free!, p)
        return p
    end
end

function PredictiveLaw(kernel_train::AbstractMatrix{<:Real}, Y::AbstractVecOrMat{<:Real};
                       nngp_train::Union{Nothing,AbstractMatrix{<:Real}} = nothing,
                       law::Symbol = :ntk, ridge::Real = 0.0, ridge_relative::Bool = false,
                       progress = nothing)
    cfg = _predict_config(law, ridge, ridge_relative)
    col(v) = v isa AbstractVector ? reshape(v, :, 1) : v
    Kp, Yp = _input(kernel_train), _input(col(Y))
    Sp = nngp_train === nothing ? nothing : _input(nngp_train)
    roots = (_root(Kp), _root(Yp), Sp === nothing ? nothing : _root(Sp))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve roots begin
        s = Sp === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(Sp))
        status = _with_progress(progress) do opts
            ccall((:ntk_predictor_create, libntk), Cint,
                  (Ref{CPredictConfig}, CMatrix, Ptr{CMatrix}, CMatrix, Ptr{COptions},
                   Ref{Ptr{Cvoid}}),
                  cfg, _cmatrix(Kp), s, _cmatrix(Yp), opts, out)
        end
        _check(status)
    end
    return PredictiveLaw(out[], size(Yp, 1), size(Yp, 2), law, law == :nngp || Sp !== nothing)
end

_release(p::PredictiveLaw) = ccall((:ntk_predictor_free, libntk), Cvoid, (Ptr{Cvoid},), p.ptr)

Base.show(io::IO, p::PredictiveLaw) =
    print(io, "NTK.PredictiveLaw(:", p.law, ", N = ", p.n, ", k = ", p.k, isopen(p) ? ")" : ", closed)")

"""
    PredictiveTestSet(law, kernel_test_train; nngp_test_train = nothing,
                      nngp_test_test = nothing, progress = nothing)

The test side of a [`PredictiveLaw`](@ref) on M test points: `kernel_test_train` is Θ_*x
(`:ntk`) or Σ_*x (`:nngp`), `M × N`. For covariances give `nngp_test_test` = Σ_** as an
`M × M` matrix (full covariances) or a vector of the M prior variances (variances only), and,
for the `:ntk` law, `nngp_test_train` = Σ_*x. Costs 2MN² flops per test-train kernel. Then
[`ensemble_law`](@ref)`(testset, t)`.
"""
mutable struct PredictiveTestSet <: Handle
    ptr::Ptr{Cvoid}
    m::Int
    k::Int
    cov::Symbol  # :none, :full, :diagonal: what can be asked for
    function PredictiveTestSet(ptr::Ptr{Cvoid}, m::Int, k::Int, cov::Symbol)
        t = new(ptr, m, k, cov)
        finalizer(_free!, t)
        return t
    end
end

function PredictiveTestSet(p::PredictiveLaw, kernel_test_train::AbstractMatrix{<:Real};
                           nngp_test_train::Union{Nothing,AbstractMatrix{<:Real}} = nothing,
                           nngp_test_test::Union{Nothing,AbstractVecOrMat{<:Real}} = nothing,
                           progress = nothing)
    Kp = _input(kernel_test_train)
    Sp = nngp_test_train === nothing ? nothing : _input(nngp_test_train)
    m = size(Kp, 1)
    Pp = nngp_test_test === nothing ? nothing :
         nngp_test_test isa AbstractVector ? _input(reshape(collect(nngp_test_test), :, 1)) :
         _input(nngp_test_test)
    cov = Pp === nothing ? :none : (size(Pp, 2) == m ? :full : :diagonal)
    roots = (_root(Kp), Sp === nothing ? nothing : _root(Sp), Pp === nothing ? nothing : _root(Pp))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    GC.@preserve roots begin
        s = Sp === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(Sp))
        pr = Pp === nothing ? Ptr{CMatrix}(C_NULL) : Ref(_cmatrix(Pp))
        status = _with_progress(progress) do opts
            ccall((:ntk_predictor_test_create, libntk), Cint,
                  (Ptr{Cvoid}, CMatrix, Ptr{CMatrix}, Ptr{CMatrix}, Ptr{COptions}, Ref{Ptr{Cvoid}}),
                  p, _cmatrix(Kp), s, pr, opts, out)
        end
        _check(status)
    end
    return PredictiveTestSet(out[], m, p.k, cov)
end

_release(t::PredictiveTestSet) = ccall((:ntk_predictor_test_free, libntk), Cvoid, (Ptr{Cvoid},), t.ptr)

Base.show(io::IO, t::PredictiveTestSet) =
    print(io, "NTK.PredictiveTestSet(M = ", t.m, ", k = ", t.k, ", cov = :", t.cov,
          isopen(t) ? ")" : ", closed)")

_cov_out(cov::Symbol, m::Int) =
    cov === :full ? Matrix{Float64}(undef, m, m) :
    cov === :diagonal ? Matrix{Float64}(undef, m, 1) :
    cov === :none ? nothing :
    throw(ArgumentError("unknown cov :$cov; one of [:diagonal, :full, :none]"))

"""
    ensemble_law(testset, t; cov = testset's richest, progress = nothing) -> (mean = M × k, cov)

The law at time `t ≥ 0` (`Inf` allowed): `mean` (`M × k`) and `cov`, the `M × M` covariance
over the test points (`cov = :full`), the vector of variances (`:diagonal`) or `nothing`
(`:none`), shared by the k outputs. At t = 0 it is the prior N(0, Σ_**).

    ensemble_law(net, Xtrain, Y, Xtest, t; law = :ntk, cov = :full, ridge = 0.0,
                 ridge_relative = false, progress = nothing) -> (mean, cov)

From points in one call: the limit kernels of `net`'s architecture (n_0, depth, activation,
β) on `Xtrain` (`N × n_0`) and `Xtest` (`M × n_0`), then the law; `Y` is `N × n_L`. The
10–90 % band is `mean ± 1.2816 .* sqrt.(var)`.
"""
function ensemble_law(ts::PredictiveTestSet, t::Real; cov::Symbol = ts.cov, progress = nothing)
    mean = Matrix{Float64}(undef, ts.m, ts.k)
    C = _cov_out(cov, ts.m)
    GC.@preserve mean C begin
        mv = Ref(_cmatrix_mut(mean))
        cv = C === nothing ? Ptr{CMatrixMut}(C_NULL) : Ref(_cmatrix_mut(C))
        status = _with_progress(progress) do opts
            ccall((:ntk_predictor_law, libntk), Cint,
                  (Ptr{Cvoid}, Cdouble, Ptr{CMatrixMut}, Ptr{CMatrixMut}, Ptr{COptions}),
                  ts, t, mv, cv, opts)
        end
        _check(status)
    end
    return (mean = mean, cov = cov === :diagonal ? vec(C) : C)
end

function ensemble_law(net::Network, Xtrain::AbstractVecOrMat{<:Real}, Y::AbstractVecOrMat{<:Real},
                      Xtest::AbstractVecOrMat{<:Real}, t::Real; law::Symbol = :ntk,
                      cov::Symbol = :full, ridge::Real = 0.0, ridge_relative::Bool = false,
                      progress = nothing)
    cfg = _predict_config(law, ridge, ridge_relative)
    col(v) = v isa AbstractVector ? reshape(v, :, 1) : v
    A, Yp, B = _input(Xtrain), _input(col(Y)), _input(Xtest)
    m = size(B, 1)
    mean = Matrix{Float64}(undef, m, size(Yp, 2))
    C = _cov_out(cov, m)
    roots = (_root(A), _root(Yp), _root(B), mean, C)
    GC.@preserve roots begin
        mv = Ref(_cmatrix_mut(mean))
        cv = C === nothing ? Ptr{CMatrixMut}(C_NULL) : Ref(_cmatrix_mut(C))
        status = _with_progress(progress) do opts
            ccall((:ntk_ensemble_law, libntk), Cint,
                  (Ptr{Cvoid}, Ref{CPredictConfig}, CMatrix, CMatrix, CMatrix, Cdouble,
                   Ptr{CMatrixMut}, Ptr{CMatrixMut}, Ptr{COptions}),
                  net, cfg, _cmatrix(A), _cmatrix(Yp), _cmatrix(B), t, mv, cv, opts)
        end
        _check(status)
    end
    return (mean = mean, cov = cov === :diagonal ? vec(C) : C)
end
