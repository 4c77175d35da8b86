//! The real gamepad behind [`StickInput`]: the first connected pad's left stick, read through
//! `gilrs` (which needs libudev on Linux). A machine without pads, or where gilrs cannot start,
//! simply has no stick: trace mode then uses the pointer and keys.

use super::trace_mode::StickInput;

pub struct GilrsStick {
    gilrs: gilrs::Gilrs,
}

impl GilrsStick {
    /// Starts gilrs; `None` (with the reason logged) when it cannot run here.
    #[must_use]
    pub fn open() -> Option<Self> {
        match gilrs::Gilrs::new() {
            Ok(gilrs) => Some(Self { gilrs }),
            Err(error) => {
                tracing::info!("no gamepads for trace mode: {error}");
                None
            }
        }
    }
}

impl StickInput for GilrsStick {
    fn axis(&mut self) -> Option<f64> {
        // Drain the events so connection changes and axis values are current.
        while self.gilrs.next_event().is_some() {}
        let (_, pad) = self.gilrs.gamepads().find(|(_, pad)| pad.is_connected())?;
        Some(f64::from(pad.value(gilrs::Axis::LeftStickY)))
    }
}
