//! PyO3 bindings of the indicator `kernels`: contiguous float64 numpy arrays in (read in place,
//! GIL released), one new float64 array per output. Periods arrive validated by
//! `trading.indicators`; a `KernelError` that gets through becomes a `ValueError`.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::kernels::{self, KernelError, StochPeriods};

type Series<'py> = Bound<'py, PyArray1<f64>>;
type Input<'py> = PyReadonlyArray1<'py, f64>;

fn values<'a>(name: &str, array: &'a Input<'_>) -> PyResult<&'a [f64]> {
    array
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name}: must be a contiguous array")))
}

fn kernel_error(error: KernelError) -> PyErr {
    PyValueError::new_err(error.to_string())
}

fn one(py: Python<'_>, result: Result<Vec<f64>, KernelError>) -> PyResult<Series<'_>> {
    Ok(result.map_err(kernel_error)?.into_pyarray(py))
}

fn two(
    py: Python<'_>,
    result: Result<[Vec<f64>; 2], KernelError>,
) -> PyResult<(Series<'_>, Series<'_>)> {
    let [a, b] = result.map_err(kernel_error)?;
    Ok((a.into_pyarray(py), b.into_pyarray(py)))
}

fn three(
    py: Python<'_>,
    result: Result<[Vec<f64>; 3], KernelError>,
) -> PyResult<(Series<'_>, Series<'_>, Series<'_>)> {
    let [a, b, c] = result.map_err(kernel_error)?;
    Ok((a.into_pyarray(py), b.into_pyarray(py), c.into_pyarray(py)))
}

#[pyfunction]
fn ta_sma<'py>(py: Python<'py>, close: Input<'py>, period: usize) -> PyResult<Series<'py>> {
    let close = values("close", &close)?;
    one(py, py.detach(|| kernels::sma(close, period)))
}

#[pyfunction]
fn ta_ema<'py>(py: Python<'py>, close: Input<'py>, period: usize) -> PyResult<Series<'py>> {
    let close = values("close", &close)?;
    one(py, py.detach(|| kernels::ema(close, period)))
}

#[pyfunction]
fn ta_rsi<'py>(py: Python<'py>, close: Input<'py>, period: usize) -> PyResult<Series<'py>> {
    let close = values("close", &close)?;
    one(py, py.detach(|| kernels::rsi(close, period)))
}

#[pyfunction]
fn ta_macd<'py>(
    py: Python<'py>,
    close: Input<'py>,
    fastperiod: usize,
    slowperiod: usize,
    signalperiod: usize,
) -> PyResult<(Series<'py>, Series<'py>, Series<'py>)> {
    let close = values("close", &close)?;
    let result = py.detach(|| kernels::macd(close, fastperiod, slowperiod, signalperiod));
    three(py, result)
}

#[pyfunction]
fn ta_bbands<'py>(
    py: Python<'py>,
    close: Input<'py>,
    period: usize,
    nbdevup: f64,
    nbdevdn: f64,
) -> PyResult<(Series<'py>, Series<'py>, Series<'py>)> {
    let close = values("close", &close)?;
    three(
        py,
        py.detach(|| kernels::bbands(close, period, nbdevup, nbdevdn)),
    )
}

#[pyfunction]
fn ta_atr<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    period: usize,
) -> PyResult<Series<'py>> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    one(py, py.detach(|| kernels::atr(h, lo, c, period)))
}

#[pyfunction]
fn ta_stoch<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    fastk_period: usize,
    slowk_period: usize,
    slowd_period: usize,
) -> PyResult<(Series<'py>, Series<'py>)> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    let periods = StochPeriods {
        fastk: fastk_period,
        slowk: slowk_period,
        slowd: slowd_period,
    };
    two(py, py.detach(|| kernels::stoch(h, lo, c, periods)))
}

#[pyfunction]
fn ta_cci<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    period: usize,
) -> PyResult<Series<'py>> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    one(py, py.detach(|| kernels::cci(h, lo, c, period)))
}

#[pyfunction]
fn ta_mfi<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    volume: Input<'py>,
    period: usize,
) -> PyResult<Series<'py>> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    let v = values("volume", &volume)?;
    one(py, py.detach(|| kernels::mfi(h, lo, c, v, period)))
}

#[pyfunction]
fn ta_obv<'py>(py: Python<'py>, close: Input<'py>, volume: Input<'py>) -> PyResult<Series<'py>> {
    let (c, v) = (values("close", &close)?, values("volume", &volume)?);
    one(py, py.detach(|| kernels::obv(c, v)))
}

#[pyfunction]
fn ta_directional_indexes<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    period: usize,
) -> PyResult<(Series<'py>, Series<'py>)> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    two(
        py,
        py.detach(|| kernels::directional_indexes(h, lo, c, period)),
    )
}

#[pyfunction]
fn ta_adx<'py>(
    py: Python<'py>,
    high: Input<'py>,
    low: Input<'py>,
    close: Input<'py>,
    period: usize,
) -> PyResult<Series<'py>> {
    let (h, lo, c) = (
        values("high", &high)?,
        values("low", &low)?,
        values("close", &close)?,
    );
    one(py, py.detach(|| kernels::adx(h, lo, c, period)))
}

/// Adds the `ta_*` indicator kernels to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ta_sma, m)?)?;
    m.add_function(wrap_pyfunction!(ta_ema, m)?)?;
    m.add_function(wrap_pyfunction!(ta_rsi, m)?)?;
    m.add_function(wrap_pyfunction!(ta_macd, m)?)?;
    m.add_function(wrap_pyfunction!(ta_bbands, m)?)?;
    m.add_function(wrap_pyfunction!(ta_atr, m)?)?;
    m.add_function(wrap_pyfunction!(ta_stoch, m)?)?;
    m.add_function(wrap_pyfunction!(ta_cci, m)?)?;
    m.add_function(wrap_pyfunction!(ta_mfi, m)?)?;
    m.add_function(wrap_pyfunction!(ta_obv, m)?)?;
    m.add_function(wrap_pyfunction!(ta_directional_indexes, m)?)?;
    m.add_function(wrap_pyfunction!(ta_adx, m)?)?;
    Ok(())
}
