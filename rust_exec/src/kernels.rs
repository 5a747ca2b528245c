//! Batch indicator kernels over `f64` bar series, TA-Lib's loops operation for operation.
//!
//! Each kernel is the batch twin of a streaming class in `trading/indicators/` and runs the
//! same arithmetic in the same order, so the two agree bit for bit (and with TA-Lib wherever
//! the streaming class does). Like ta-lib-python, a kernel starts at the first bar where no
//! input is NaN; every output has the input's length, NaN before the first value.

use thiserror::Error;

/// TA-Lib's relative dead-zone (`TA_IS_ZERO`, `TA_REAL_EQ`): within 1e-14 counts as flat/zero.
pub const TA_EPSILON: f64 = 1e-14;
/// TA-Lib `TA_IS_ZERO_OR_NEG` for the Bollinger variance: below this the window is flat.
pub const VARIANCE_FLOOR: f64 = 1e-14;
/// Windows per block of the Bollinger variance pass (keeps a block's data in L1).
const VARIANCE_BLOCK: usize = 512;
/// Lambert's CCI constant: ~70-80% of values fall within +-100.
pub const CCI_CONSTANT: f64 = 0.015;

/// A kernel called with inputs it cannot compute on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KernelError {
    #[error("{name}: length {len} differs from {first} length {expected}")]
    LengthMismatch {
        name: &'static str,
        len: usize,
        first: &'static str,
        expected: usize,
    },
    #[error("{name}: must be >= {minimum}, got {value}")]
    PeriodTooSmall {
        name: &'static str,
        value: usize,
        minimum: usize,
    },
}

fn check_period(name: &'static str, value: usize, minimum: usize) -> Result<(), KernelError> {
    if value < minimum {
        return Err(KernelError::PeriodTooSmall {
            name,
            value,
            minimum,
        });
    }
    Ok(())
}

/// Length of the series; every input must have the first one's.
fn common_length(named: &[(&'static str, &[f64])]) -> Result<usize, KernelError> {
    let (first, expected) = (named[0].0, named[0].1.len());
    for &(name, values) in &named[1..] {
        if values.len() != expected {
            return Err(KernelError::LengthMismatch {
                name,
                len: values.len(),
                first,
                expected,
            });
        }
    }
    Ok(expected)
}

/// Index of the first bar where no input is NaN (the length if there is none).
pub fn first_complete_bar(inputs: &[&[f64]]) -> usize {
    let n = inputs.first().map_or(0, |values| values.len());
    (0..n)
        .find(|&i| inputs.iter().all(|values| !values[i].is_nan()))
        .unwrap_or(n)
}

/// Window sums of `values` into `out[period-1..]`, TA-Lib's running total: add the newest,
/// read, drop the oldest (drift included). `out` has `values`' length.
fn window_sums(values: &[f64], period: usize, scale: f64, out: &mut [f64]) {
    if values.len() < period {
        return;
    }
    let mut total = 0.0;
    for &value in &values[..period - 1] {
        total += value;
    }
    let newest = values[period - 1..].iter();
    for ((slot, &value), &oldest) in out[period - 1..].iter_mut().zip(newest).zip(values) {
        total += value;
        *slot = total / scale;
        total -= oldest;
    }
}

/// The running window total one value at a time (`RunningWindowSum` in Python).
struct RunningWindowSum {
    ring: Vec<f64>,
    next: usize,
    count: usize,
    total: f64,
}

impl RunningWindowSum {
    fn new(period: usize) -> Self {
        Self {
            ring: vec![0.0; period],
            next: 0,
            count: 0,
            total: 0.0,
        }
    }

    /// Add `value`; the window total once `period` values are in, else NaN.
    fn update(&mut self, value: f64) -> f64 {
        let period = self.ring.len();
        self.ring[self.next] = value;
        self.total += value;
        self.next = if self.next + 1 == period {
            0
        } else {
            self.next + 1
        };
        if self.count + 1 < period {
            self.count += 1;
            return f64::NAN;
        }
        let total = self.total;
        self.total -= self.ring[self.next];
        total
    }

    /// Set the window total to exactly 0 (its values are all zero; drop the residue).
    fn reset_total(&mut self) {
        self.total = if self.count + 1 >= self.ring.len() {
            -self.ring[self.next]
        } else {
            0.0
        };
    }
}

/// Highest (`highest`) or lowest value of each full `period` window into `out[period-1..]`:
/// a monotonic deque of indices, as `RollingExtreme` in Python (a NaN is kept, never dominates).
fn window_extremes(values: &[f64], period: usize, highest: bool, out: &mut [f64]) {
    // Every index is pushed once, so a plain vector with a moving head is the deque.
    let mut deque: Vec<usize> = Vec::with_capacity(values.len());
    let mut head = 0;
    for (i, &value) in values.iter().enumerate() {
        while deque.len() > head {
            let last = values[deque[deque.len() - 1]];
            let dominated = if highest {
                last <= value
            } else {
                last >= value
            };
            if !dominated {
                break;
            }
            deque.pop();
        }
        deque.push(i);
        if deque[head] + period <= i {
            head += 1;
        }
        if i + 1 >= period {
            out[i] = values[deque[head]];
        }
    }
}

/// EMA seeded with the SMA of its first `period` values (`EMAStream`); skips a leading NaN.
struct Ema {
    period: usize,
    k: f64,
    count: usize,
    value: f64,
}

impl Ema {
    fn new(period: usize) -> Self {
        Self {
            period,
            k: 2.0 / (period + 1) as f64,
            count: 0,
            value: 0.0,
        }
    }

    fn update(&mut self, value: f64) -> f64 {
        if self.count < self.period {
            if self.count == 0 && value.is_nan() {
                return f64::NAN;
            }
            self.value += value;
            self.count += 1;
            if self.count < self.period {
                return f64::NAN;
            }
            self.value /= self.period as f64;
            return self.value;
        }
        self.value = (value - self.value) * self.k + self.value;
        self.value
    }
}

/// Simple moving average, as TA-Lib `SMA` (running total).
pub fn sma(close: &[f64], period: usize) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 1)?;
    let mut out = vec![f64::NAN; close.len()];
    let start = first_complete_bar(&[close]);
    window_sums(&close[start..], period, period as f64, &mut out[start..]);
    Ok(out)
}

/// EMA, k = 2/(period+1), seeded with the SMA of the first `period` values, as TA-Lib `EMA`.
pub fn ema(close: &[f64], period: usize) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 1)?;
    let mut out = vec![f64::NAN; close.len()];
    let start = first_complete_bar(&[close]);
    let mut average = Ema::new(period);
    for (slot, &value) in out[start..].iter_mut().zip(&close[start..]) {
        *slot = average.update(value);
    }
    Ok(out)
}

/// RSI with Wilder smoothing (alpha = 1/period), as TA-Lib `RSI`.
pub fn rsi(close: &[f64], period: usize) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 2)?;
    let mut out = vec![f64::NAN; close.len()];
    let start = first_complete_bar(&[close]);
    rsi_from_start(&close[start..], period, &mut out[start..]);
    Ok(out)
}

fn rsi_from_start(x: &[f64], period: usize, out: &mut [f64]) {
    if x.len() <= period {
        return;
    }
    let (scale, keep) = (period as f64, (period - 1) as f64);
    let ratio = |gain: f64, loss: f64| {
        let total = gain + loss;
        if total > 0.0 {
            100.0 * (gain / total)
        } else {
            0.0
        }
    };
    let (mut gain, mut loss) = (0.0, 0.0);
    for pair in x[..=period].windows(2) {
        let change = pair[1] - pair[0];
        if change < 0.0 {
            loss -= change;
        } else {
            gain += change;
        }
    }
    loss /= scale;
    gain /= scale;
    out[period] = ratio(gain, loss);
    for (slot, pair) in out[period + 1..].iter_mut().zip(x[period..].windows(2)) {
        // Branch-free split; adding 0.0 to the other (non-negative) sum leaves it unchanged.
        let change = pair[1] - pair[0];
        let falling = change < 0.0;
        loss *= keep;
        gain *= keep;
        loss -= if falling { change } else { 0.0 };
        gain += if falling { 0.0 } else { change };
        loss /= scale;
        gain /= scale;
        *slot = ratio(gain, loss);
    }
}

/// MACD line, signal and histogram, as TA-Lib `MACD` (periods swapped if slow < fast).
///
/// The fast EMA is seeded on the `fast` bars ending where the slow EMA's seed ends, so both
/// lines start on the same bar; all three outputs start `slow + signal - 2` bars in.
pub fn macd(
    close: &[f64],
    fast: usize,
    slow: usize,
    signal: usize,
) -> Result<[Vec<f64>; 3], KernelError> {
    check_period("fastperiod", fast, 2)?;
    check_period("slowperiod", slow, 2)?;
    check_period("signalperiod", signal, 1)?;
    let (fast, slow) = (fast.min(slow), fast.max(slow));
    let n = close.len();
    let mut outputs = [vec![f64::NAN; n], vec![f64::NAN; n], vec![f64::NAN; n]];
    let start = first_complete_bar(&[close]);
    let [line_out, signal_out, hist_out] = &mut outputs;
    let (mut fast_ema, mut slow_ema, mut signal_ema) =
        (Ema::new(fast), Ema::new(slow), Ema::new(signal));
    let lookback = slow - 1 + signal - 1;
    for (bar, &value) in close[start..].iter().enumerate() {
        let slow_value = slow_ema.update(value);
        if bar < slow - fast {
            continue;
        }
        let fast_value = fast_ema.update(value);
        if bar + 1 < slow {
            continue;
        }
        let line = fast_value - slow_value;
        let smoothed = signal_ema.update(line);
        if bar >= lookback {
            let i = start + bar;
            (line_out[i], signal_out[i], hist_out[i]) = (line, smoothed, line - smoothed);
        }
    }
    Ok(outputs)
}

/// Bollinger Bands (upper, middle, lower): SMA +- k * population stdev, TA-Lib `BBANDS` (SMA).
///
/// The variance is two-pass around the window mean, oldest term first; the windows are
/// accumulated side by side (lag-major), which keeps each window's summation order.
pub fn bbands(
    close: &[f64],
    period: usize,
    dev_up: f64,
    dev_down: f64,
) -> Result<[Vec<f64>; 3], KernelError> {
    check_period("period", period, 2)?;
    let n = close.len();
    let mut outputs = [vec![f64::NAN; n], vec![f64::NAN; n], vec![f64::NAN; n]];
    let start = first_complete_bar(&[close]);
    let x = &close[start..];
    if x.len() < period {
        return Ok(outputs);
    }
    let [upper, middle, lower] = &mut outputs;
    let first = start + period - 1;
    window_sums(x, period, period as f64, &mut middle[start..]);
    let (mean, squares) = (&middle[first..], &mut upper[first..]);
    squares.fill(0.0);
    for (block, (totals, means)) in squares
        .chunks_mut(VARIANCE_BLOCK)
        .zip(mean.chunks(VARIANCE_BLOCK))
        .enumerate()
    {
        let first_bar = block * VARIANCE_BLOCK;
        for lag in 0..period {
            let values = &x[first_bar + lag..];
            for ((total, &value), &mu) in totals.iter_mut().zip(values).zip(means) {
                let offset = value - mu;
                *total += offset * offset;
            }
        }
    }
    let scale = period as f64;
    for ((high, low), &mu) in upper[first..].iter_mut().zip(&mut lower[first..]).zip(mean) {
        let variance = *high / scale;
        let deviation = if variance < VARIANCE_FLOOR {
            0.0
        } else {
            variance.sqrt()
        };
        (*high, *low) = (mu + deviation * dev_up, mu - deviation * dev_down);
    }
    Ok(outputs)
}

/// Wilder's true range: the largest of H-L, |C[-1]-H|, |C[-1]-L| (TA-Lib `TRANGE` order).
pub fn true_range(high: f64, low: f64, previous_close: f64) -> f64 {
    let mut greatest = high - low;
    let gap_up = (previous_close - high).abs();
    if gap_up > greatest {
        greatest = gap_up;
    }
    let gap_down = (previous_close - low).abs();
    if gap_down > greatest {
        gap_down
    } else {
        greatest
    }
}

/// Average true range: SMA seed of `period` TRs, then Wilder smoothing, as TA-Lib `ATR`.
pub fn atr(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 1)?;
    let n = common_length(&[("high", high), ("low", low), ("close", close)])?;
    let mut out = vec![f64::NAN; n];
    let start = first_complete_bar(&[high, low, close]);
    if n - start <= period {
        return Ok(out);
    }
    let (scale, keep) = (period as f64, (period - 1) as f64);
    let mut value = 0.0;
    for i in start + 1..n {
        let tr = true_range(high[i], low[i], close[i - 1]);
        let bar = i - start;
        if bar < period {
            value += tr;
        } else if bar == period {
            value += tr;
            value /= scale;
        } else {
            value = (value * keep + tr) / scale;
        }
        if bar >= period {
            out[i] = value;
        }
    }
    Ok(out)
}

/// %K window, %K smoothing and %D smoothing periods of the slow stochastic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StochPeriods {
    pub fastk: usize,
    pub slowk: usize,
    pub slowd: usize,
}

/// Slow stochastic (%K, %D), both SMA-smoothed, as TA-Lib `STOCH` with SMA types.
///
/// Like TA-Lib, %K is withheld until %D exists, so both start on the same bar.
pub fn stoch(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    periods: StochPeriods,
) -> Result<[Vec<f64>; 2], KernelError> {
    let StochPeriods {
        fastk,
        slowk,
        slowd,
    } = periods;
    check_period("fastk_period", fastk, 1)?;
    check_period("slowk_period", slowk, 1)?;
    check_period("slowd_period", slowd, 1)?;
    let n = common_length(&[("high", high), ("low", low), ("close", close)])?;
    let mut outputs = [vec![f64::NAN; n], vec![f64::NAN; n]];
    let start = first_complete_bar(&[high, low, close]);
    let lookback = fastk - 1 + slowk - 1 + slowd - 1;
    if n - start <= lookback {
        return Ok(outputs);
    }
    let [k_out, d_out] = &mut outputs;
    let (h, lo, c) = (&high[start..], &low[start..], &close[start..]);
    // The extremes go to the outputs' tails first; raw %K then overwrites the highs.
    let (raw, lowest) = (&mut k_out[start..], &mut d_out[start..]);
    window_extremes(h, fastk, true, raw);
    window_extremes(lo, fastk, false, lowest);
    for ((top, &bottom), &latest) in raw.iter_mut().zip(&*lowest).zip(c).skip(fastk - 1) {
        let span = *top - bottom;
        let flat = span.abs() <= TA_EPSILON * (top.abs() + bottom.abs());
        *top = if flat {
            0.0
        } else {
            ((latest - bottom) / span) * 100.0
        };
    }
    let mut k_line = vec![f64::NAN; n - start - (fastk - 1)];
    window_sums(&raw[fastk - 1..], slowk, slowk as f64, &mut k_line);
    let k_line = &k_line[slowk - 1..];
    let d_line = &mut lowest[fastk - 1 + slowk - 1..];
    window_sums(k_line, slowd, slowd as f64, d_line);
    lowest[..lookback].fill(f64::NAN);
    raw[..lookback].fill(f64::NAN);
    raw[lookback..].copy_from_slice(&k_line[slowd - 1..]);
    Ok(outputs)
}

/// CCI (Lambert): (TP - SMA(TP)) / (0.015 * mean abs deviation), as TA-Lib `CCI`.
///
/// TA-Lib keeps the window in a circular buffer (bar `i` in slot `i % period`) and sums it in
/// slot order; so does this. 0 when the offset or mean deviation is within 1e-14 of the mean.
pub fn cci(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 2)?;
    let n = common_length(&[("high", high), ("low", low), ("close", close)])?;
    let mut out = vec![f64::NAN; n];
    let start = first_complete_bar(&[high, low, close]);
    let scale = period as f64;
    let mut ring = vec![0.0; period];
    let mut next = 0;
    for i in start..n {
        let latest = (high[i] + low[i] + close[i]) / 3.0;
        ring[next] = latest;
        next = if next + 1 == period { 0 } else { next + 1 };
        if i - start + 1 < period {
            continue;
        }
        let mut total = 0.0;
        for &value in &ring {
            total += value;
        }
        let mean = total / scale;
        let mut deviation = 0.0;
        for &value in &ring {
            deviation += (value - mean).abs();
        }
        let offset = latest - mean;
        let mean_deviation = deviation / scale;
        let band = TA_EPSILON * mean.abs();
        out[i] = if offset.abs() <= band || mean_deviation.abs() <= band {
            0.0
        } else {
            offset / (CCI_CONSTANT * mean_deviation)
        };
    }
    Ok(out)
}

/// Python's `max(a, b)` / `min(a, b)`: keep `a` unless `b` is strictly beyond it (NaN stays).
fn python_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

fn python_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Money flow index, as TA-Lib `MFI` (0.6+): volume-weighted RSI on typical price.
///
/// A move within the dead-zone is no flow; once a full window carried no flow both running
/// totals restart from exactly 0, as TA-Lib does.
pub fn mfi(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    period: usize,
) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 2)?;
    let named = [
        ("high", high),
        ("low", low),
        ("close", close),
        ("volume", volume),
    ];
    let n = common_length(&named)?;
    let mut out = vec![f64::NAN; n];
    let start = first_complete_bar(&[high, low, close, volume]);
    if start == n {
        return Ok(out);
    }
    let (mut positive_sum, mut negative_sum) =
        (RunningWindowSum::new(period), RunningWindowSum::new(period));
    let mut previous = (high[start] + low[start] + close[start]) / 3.0;
    let mut null_run = 0;
    for i in start + 1..n {
        let latest = (high[i] + low[i] + close[i]) / 3.0;
        let change = latest - previous;
        let flat = change.abs() <= TA_EPSILON * (latest.abs() + previous.abs());
        previous = latest;
        let flow = if flat { 0.0 } else { latest * volume[i] };
        let falling = change < 0.0;
        let mut positive = positive_sum.update(if falling { 0.0 } else { flow });
        let mut negative = negative_sum.update(if falling { flow } else { 0.0 });
        null_run = if flow == 0.0 { null_run + 1 } else { 0 };
        if null_run >= period {
            (positive, negative) = (0.0, 0.0);
            positive_sum.reset_total();
            negative_sum.reset_total();
        }
        if i - start < period {
            continue;
        }
        let total = positive + negative;
        out[i] = if total <= 0.0 {
            0.0
        } else {
            100.0 * (python_min(python_max(positive, 0.0), total) / total)
        };
    }
    Ok(out)
}

/// On-balance volume starting at the first bar's volume, as TA-Lib `OBV`.
pub fn obv(close: &[f64], volume: &[f64]) -> Result<Vec<f64>, KernelError> {
    let n = common_length(&[("close", close), ("volume", volume)])?;
    let mut out = vec![f64::NAN; n];
    let start = first_complete_bar(&[close, volume]);
    if start == n {
        return Ok(out);
    }
    let mut value = volume[start];
    out[start] = value;
    for i in start + 1..n {
        if close[i] > close[i - 1] {
            value += volume[i];
        } else if close[i] < close[i - 1] {
            value -= volume[i];
        } else {
            value += 0.0;
        }
        out[i] = value;
    }
    Ok(out)
}

fn is_zero(value: f64) -> bool {
    -TA_EPSILON < value && value < TA_EPSILON
}

/// Wilder's directional movement over a NaN-free-start series: calls `emit(bar, +DI, -DI,
/// smoothed TR is zero)` from bar `period` on (`DirectionalMovementStream` in Python).
fn directional_movement(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    mut emit: impl FnMut(usize, f64, f64, bool),
) {
    let scale = period as f64;
    let (mut plus_sum, mut minus_sum, mut tr_sum) = (0.0, 0.0, 0.0);
    for i in 1..high.len() {
        let up = high[i] - high[i - 1];
        let down = low[i - 1] - low[i];
        let tr = true_range(high[i], low[i], close[i - 1]);
        let minus_move = if down > 0.0 && up < down { down } else { 0.0 };
        let plus_move = if up > 0.0 && up > down { up } else { 0.0 };
        if period == 1 {
            if is_zero(tr) {
                emit(i, 0.0, 0.0, true);
            } else {
                let plus = if plus_move > 0.0 { plus_move / tr } else { 0.0 };
                let minus = if minus_move > 0.0 {
                    minus_move / tr
                } else {
                    0.0
                };
                emit(i, plus, minus, true);
            }
            continue;
        }
        if i < period {
            plus_sum += plus_move;
            minus_sum += minus_move;
            tr_sum += tr;
            continue;
        }
        plus_sum = plus_sum - plus_sum / scale + plus_move;
        minus_sum = minus_sum - minus_sum / scale + minus_move;
        tr_sum = tr_sum - tr_sum / scale + tr;
        if is_zero(tr_sum) {
            emit(i, 0.0, 0.0, true);
        } else {
            emit(
                i,
                100.0 * (plus_sum / tr_sum),
                100.0 * (minus_sum / tr_sum),
                false,
            );
        }
    }
}

/// (+DI, -DI) = 100 * smoothed +DM/-DM / smoothed TR (Wilder), as TA-Lib `PLUS_DI`/`MINUS_DI`.
///
/// Period 1 reproduces TA-Lib's unsmoothed special case, a ratio (not percent).
pub fn directional_indexes(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<[Vec<f64>; 2], KernelError> {
    check_period("period", period, 1)?;
    let n = common_length(&[("high", high), ("low", low), ("close", close)])?;
    let mut outputs = [vec![f64::NAN; n], vec![f64::NAN; n]];
    let start = first_complete_bar(&[high, low, close]);
    let [plus_out, minus_out] = &mut outputs;
    let (h, lo, c) = (&high[start..], &low[start..], &close[start..]);
    directional_movement(h, lo, c, period, |bar, plus, minus, _| {
        (plus_out[start + bar], minus_out[start + bar]) = (plus, minus);
    });
    Ok(outputs)
}

/// Average directional index: the mean of the first `period` DX, then Wilder smoothing of DX,
/// as TA-Lib `ADX`; a bar whose smoothed TR or DI sum is zero leaves the ADX unchanged.
pub fn adx(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
) -> Result<Vec<f64>, KernelError> {
    check_period("period", period, 2)?;
    let n = common_length(&[("high", high), ("low", low), ("close", close)])?;
    let mut out = vec![f64::NAN; n];
    let start = first_complete_bar(&[high, low, close]);
    let (scale, keep) = (period as f64, (period - 1) as f64);
    let (mut count, mut value) = (0, 0.0);
    let (h, lo, c) = (&high[start..], &low[start..], &close[start..]);
    directional_movement(h, lo, c, period, |bar, plus, minus, tr_is_zero| {
        let total = minus + plus;
        let valid = !tr_is_zero && !is_zero(total);
        if count < period {
            if valid {
                value += 100.0 * ((minus - plus).abs() / total);
            }
            count += 1;
            if count < period {
                return;
            }
            value /= scale;
        } else if valid {
            let dx = 100.0 * ((minus - plus).abs() / total);
            value = (value * keep + dx) / scale;
        }
        out[start + bar] = value;
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f64 = f64::NAN;

    /// Equal element for element, NaN where the other has NaN.
    fn assert_series(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a.is_nan() && e.is_nan()) || (a - e).abs() <= 1e-12 * e.abs().max(1.0),
                "{actual:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn sma_is_the_running_window_mean() {
        let out = sma(&[1.0, 2.0, 3.0, 4.0, 5.0], 3).unwrap();
        assert_series(&out, &[NAN, NAN, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn leading_nans_are_skipped_and_a_later_nan_poisons_the_running_total() {
        let out = sma(&[NAN, 1.0, 3.0, 5.0, NAN, 7.0], 2).unwrap();
        assert_series(&out, &[NAN, NAN, 2.0, 4.0, NAN, NAN]);
        assert_eq!(first_complete_bar(&[&[NAN, 1.0, 2.0], &[0.0, NAN, 2.0]]), 2);
        assert_eq!(first_complete_bar(&[&[NAN, NAN]]), 2);
    }

    #[test]
    fn ema_is_seeded_with_the_sma_then_halves_the_gap_at_period_three() {
        // k = 2 / (3 + 1) = 0.5: seed (1+2+3)/3 = 2, then 2 + (4-2)/2 = 3, 3 + (6-3)/2 = 4.5.
        let out = ema(&[1.0, 2.0, 3.0, 4.0, 6.0], 3).unwrap();
        assert_series(&out, &[NAN, NAN, 2.0, 3.0, 4.5]);
    }

    #[test]
    fn rsi_uses_wilder_smoothing_of_gains_and_losses() {
        // Changes +1, -1, +1, +1. Seed: gain 1/2, loss 1/2 -> 50. Then gain (0.5 + 1)/2 = 0.75,
        // loss 0.5/2 = 0.25 -> 75; gain (0.75 + 1)/2 = 0.875, loss 0.125 -> 87.5.
        let out = rsi(&[1.0, 2.0, 1.0, 2.0, 3.0], 2).unwrap();
        assert_series(&out, &[NAN, NAN, 50.0, 75.0, 87.5]);
        assert_series(&rsi(&[5.0; 4], 2).unwrap(), &[NAN, NAN, 0.0, 0.0]);
    }

    #[test]
    fn atr_seeds_with_the_mean_true_range_then_smooths_by_wilder() {
        // True ranges 3 (H-L), 4 (gap to the low), 7 (gap up from the previous close 8).
        let (high, low) = ([10.0, 12.0, 11.0, 15.0], [8.0, 9.0, 7.0, 12.0]);
        let close = [9.0, 11.0, 8.0, 14.0];
        let out = atr(&high, &low, &close, 2).unwrap();
        assert_series(&out, &[NAN, NAN, 3.5, 5.25]);
    }

    #[test]
    fn macd_line_is_fast_minus_slow_ema_and_hist_is_line_minus_signal() {
        let close: Vec<f64> = (0..40).map(|i| 100.0 + (i as f64 * 0.7).sin()).collect();
        let [line, signal, hist] = macd(&close, 3, 6, 2).unwrap();
        // TA-Lib seeds the fast EMA on the bars ending where the slow seed ends (bars 3..6).
        let fast = ema(&close[3..], 3).unwrap();
        let slow = ema(&close, 6).unwrap();
        assert_eq!(line.iter().take_while(|v| v.is_nan()).count(), 6);
        for i in 6..40 {
            assert_eq!(line[i], fast[i - 3] - slow[i]);
            assert_eq!(hist[i], line[i] - signal[i]);
        }
        let swapped = macd(&close, 6, 3, 2).unwrap();
        assert_series(&swapped[0], &line);
    }

    #[test]
    fn bbands_are_the_mean_plus_minus_population_stdevs() {
        // Windows [1, 3] and [3, 3]: means 2 and 3, stdevs 1 and 0 (flat).
        let [upper, middle, lower] = bbands(&[1.0, 3.0, 3.0], 2, 2.0, 1.0).unwrap();
        assert_series(&middle, &[NAN, 2.0, 3.0]);
        assert_series(&upper, &[NAN, 4.0, 3.0]);
        assert_series(&lower, &[NAN, 1.0, 3.0]);
    }

    #[test]
    fn stoch_smooths_the_close_position_in_the_window_range() {
        // Raw %K over 3 bars: (4-1)/(5-1) = 75%, then (2-1)/(5-1) = 25%; %K(2) = 50, %D(1) = 50.
        let (high, low, close) = (
            [3.0, 4.0, 5.0, 4.0],
            [1.0, 2.0, 3.0, 1.0],
            [2.0, 3.0, 4.0, 2.0],
        );
        let periods = StochPeriods {
            fastk: 3,
            slowk: 1,
            slowd: 1,
        };
        let [k, d] = stoch(&high, &low, &close, periods).unwrap();
        assert_series(&k, &[NAN, NAN, 75.0, 25.0]);
        assert_series(&d, &k);
        let smoothed = StochPeriods {
            slowk: 2,
            ..periods
        };
        let [k, d] = stoch(&high, &low, &close, smoothed).unwrap();
        assert_series(&k, &[NAN, NAN, NAN, 50.0]);
        assert_series(&d, &[NAN, NAN, NAN, 50.0]);
    }

    #[test]
    fn window_extremes_drop_values_that_left_the_window() {
        let mut out = [NAN; 4];
        window_extremes(&[5.0, 1.0, 2.0, 0.0], 2, true, &mut out);
        assert_series(&out, &[NAN, 5.0, 2.0, 2.0]);
        window_extremes(&[5.0, 1.0, 2.0, 0.0], 2, false, &mut out);
        assert_series(&out, &[NAN, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn cci_of_a_straight_line_is_plus_100() {
        // Window [1, 2, 3]: mean 2, mean deviation 2/3, offset 1 -> 1 / (0.015 * 2/3) = 100.
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_series(&cci(&x, &x, &x, 3).unwrap(), &[NAN, NAN, 100.0, 100.0]);
        assert_series(
            &cci(&[7.0; 3], &[7.0; 3], &[7.0; 3], 2).unwrap(),
            &[NAN, 0.0, 0.0],
        );
    }

    #[test]
    fn mfi_is_the_positive_share_of_money_flow() {
        // Flows: +2, -1, +3 (typical price * volume 1). Windows of 2: 2/3 and 3/4 positive.
        let x = [1.0, 2.0, 1.0, 3.0];
        let out = mfi(&x, &x, &x, &[1.0; 4], 2).unwrap();
        assert_series(&out, &[NAN, NAN, 200.0 / 3.0, 75.0]);
        let idle = mfi(&x, &x, &x, &[0.0; 4], 2).unwrap();
        assert_series(&idle, &[NAN, NAN, 0.0, 0.0]);
    }

    #[test]
    fn running_window_sum_restarts_from_zero_after_a_reset() {
        // 0.1 + 0.2 - 0.1 - 0.2 leaves a residue in the total of the all-zero window.
        let mut sum = RunningWindowSum::new(2);
        let seen = [0.1, 0.2, 0.0, 0.0].map(|v| sum.update(v));
        assert!(seen[0].is_nan() && seen[3] != 0.0);
        sum.reset_total();
        assert_eq!(sum.update(0.0), 0.0);
    }

    #[test]
    fn obv_adds_volume_on_up_closes_and_subtracts_on_down_closes() {
        let out = obv(&[1.0, 2.0, 2.0, 1.0], &[10.0, 20.0, 30.0, 40.0]).unwrap();
        assert_series(&out, &[10.0, 30.0, 30.0, -10.0]);
    }

    #[test]
    fn steady_rise_gives_zero_minus_di_and_adx_100() {
        let high: Vec<f64> = (1..=6).map(f64::from).collect();
        let low: Vec<f64> = high.iter().map(|h| h - 0.5).collect();
        let close: Vec<f64> = high.iter().map(|h| h - 0.25).collect();
        let [plus, minus] = directional_indexes(&high, &low, &close, 2).unwrap();
        assert!(plus[..2].iter().all(|v| v.is_nan()) && plus[2..].iter().all(|&v| v > 0.0));
        assert_series(&minus, &[NAN, NAN, 0.0, 0.0, 0.0, 0.0]);
        let out = adx(&high, &low, &close, 2).unwrap();
        assert_series(&out, &[NAN, NAN, NAN, 100.0, 100.0, 100.0]);
        // Period 1: the unsmoothed ratio +DM / TR (1 / 1.25), not a percentage.
        let [plus, _] = directional_indexes(&high, &low, &close, 1).unwrap();
        assert_series(&plus[..2], &[NAN, 0.8]);
    }

    #[test]
    fn bad_inputs_are_typed_errors_naming_the_argument() {
        assert_eq!(
            atr(&[1.0; 3], &[1.0; 2], &[1.0; 3], 2),
            Err(KernelError::LengthMismatch {
                name: "low",
                len: 2,
                first: "high",
                expected: 3
            })
        );
        let error = rsi(&[1.0; 3], 1).unwrap_err();
        assert_eq!(error.to_string(), "period: must be >= 2, got 1");
        assert!(sma(&[], 1).unwrap().is_empty());
    }
}
