//! PostgreSQL `numeric` values as `numeric_in` builds them, for numbers inside jsonb:
//! base-10000 digits, weight, display scale, short or long header, 4-byte varlena.

const NBASE_DIGITS: usize = 4;
const NUMERIC_SHORT: u16 = 0x8000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_SHORT_SIGN_MASK: u16 = 0x2000;
const NUMERIC_SHORT_DSCALE_SHIFT: u16 = 7;
const NUMERIC_SHORT_DSCALE_MAX: i32 = 0x1F80 >> 7;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK: u16 = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK: i32 = 0x003F;
const NUMERIC_SHORT_WEIGHT_MIN: i32 = -(NUMERIC_SHORT_WEIGHT_MASK + 1);
const NUMERIC_DSCALE_MASK: i32 = 0x3FFF;
/// `numeric_in` refuses larger exponents.
const NUMERIC_MAX_EXPONENT: i64 = 1000;

/// Why a JSON number cannot be a PostgreSQL numeric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumericError(pub String);

/// Appends the numeric varlena (4-byte header included) for a JSON number's text.
pub fn encode(text: &str, out: &mut Vec<u8>) -> Result<(), NumericError> {
    let bytes = text.as_bytes();
    let invalid = || NumericError(format!("invalid input syntax for type numeric: \"{text}\""));
    let mut pos = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative || bytes.first() == Some(&b'+') {
        pos += 1;
    }
    // Decimal digits with NBASE_DIGITS leading zeros, as numeric.c pads them.
    let mut dec: Vec<u8> = vec![0; NBASE_DIGITS];
    let mut dweight: i64 = -1;
    let mut dscale: i64 = 0;
    let mut seen_point = false;
    let mut any_digit = false;
    while pos < bytes.len() {
        match bytes[pos] {
            b'0'..=b'9' => {
                dec.push(bytes[pos] - b'0');
                any_digit = true;
                if seen_point {
                    dscale += 1;
                } else {
                    dweight += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        pos += 1;
    }
    if !any_digit {
        return Err(invalid());
    }
    let ddigits = dec.len() - NBASE_DIGITS;
    if pos < bytes.len() {
        if !matches!(bytes[pos], b'e' | b'E') {
            return Err(invalid());
        }
        let exponent: i64 = text[pos + 1..].parse().map_err(|_| invalid())?;
        if !(-NUMERIC_MAX_EXPONENT..=NUMERIC_MAX_EXPONENT).contains(&exponent) {
            return Err(invalid());
        }
        dweight += exponent;
        dscale = (dscale - exponent).max(0);
    }
    let weight: i64 = if dweight >= 0 {
        (dweight + 1 + NBASE_DIGITS as i64 - 1) / NBASE_DIGITS as i64 - 1
    } else {
        -((-dweight - 1) / NBASE_DIGITS as i64 + 1)
    };
    let offset = ((weight + 1) * NBASE_DIGITS as i64 - (dweight + 1)) as usize;
    let ndigits = (ddigits + offset).div_ceil(NBASE_DIGITS);
    dec.resize(dec.len() + NBASE_DIGITS, 0);
    let mut digits: Vec<i16> = (0..ndigits)
        .map(|k| {
            let i = NBASE_DIGITS - offset + k * NBASE_DIGITS;
            dec[i..i + NBASE_DIGITS]
                .iter()
                .fold(0i16, |acc, d| acc * 10 + i16::from(*d))
        })
        .collect();
    // strip_var / make_result: no leading or trailing zero digits; zero is positive.
    let mut weight = weight;
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
    weight -= lead as i64;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let negative = negative && !digits.is_empty();
    if digits.is_empty() {
        weight = 0;
    }
    let overflow = || NumericError(format!("value overflows numeric format: \"{text}\""));
    if dscale > i64::from(NUMERIC_DSCALE_MASK)
        || weight > i64::from(i16::MAX)
        || weight < i64::from(i16::MIN)
    {
        return Err(overflow());
    }
    let (weight, dscale) = (weight as i32, dscale as i32);
    let short = dscale <= NUMERIC_SHORT_DSCALE_MAX
        && (NUMERIC_SHORT_WEIGHT_MIN..=NUMERIC_SHORT_WEIGHT_MASK).contains(&weight);
    let header_len = if short { 2 } else { 4 };
    let len = 4 + header_len + 2 * digits.len();
    out.extend_from_slice(&((len as u32) << 2).to_le_bytes());
    if short {
        let mut h = NUMERIC_SHORT | ((dscale as u16) << NUMERIC_SHORT_DSCALE_SHIFT);
        if negative {
            h |= NUMERIC_SHORT_SIGN_MASK;
        }
        if weight < 0 {
            h |= NUMERIC_SHORT_WEIGHT_SIGN_MASK;
        }
        h |= (weight & NUMERIC_SHORT_WEIGHT_MASK) as u16;
        out.extend_from_slice(&h.to_le_bytes());
    } else {
        let sign = if negative { NUMERIC_NEG } else { 0 };
        out.extend_from_slice(&(sign | (dscale as u16 & NUMERIC_DSCALE_MASK as u16)).to_le_bytes());
        out.extend_from_slice(&(weight as i16).to_le_bytes());
    }
    for d in digits {
        out.extend_from_slice(&d.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode(text, &mut out).unwrap();
        out
    }

    fn words(bytes: &[u8]) -> Vec<u16> {
        bytes[4..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn short_headers_weights_and_scales() {
        // 1.50: weight 0, dscale 2, digits [1, 5000]
        let b = enc("1.50");
        assert_eq!(u32::from_le_bytes(b[..4].try_into().unwrap()) >> 2, 10);
        assert_eq!(words(&b), vec![0x8000 | (2 << 7), 1, 5000]);
        // 123456789: weight 2, digits [1, 2345, 6789]
        assert_eq!(words(&enc("123456789")), vec![0x8000 | 2, 1, 2345, 6789]);
        // -0.001: weight -1 (sign bit set), dscale 3, digits [10]
        assert_eq!(
            words(&enc("-0.001")),
            vec![0x8000 | 0x2000 | (3 << 7) | 0x40 | 0x3F, 10]
        );
        // zero keeps its scale and is positive
        assert_eq!(words(&enc("-0.00")), vec![0x8000 | (2 << 7)]);
        assert_eq!(words(&enc("0")), vec![0x8000]);
        // exponents move the weight and lower the scale
        assert_eq!(words(&enc("1e5")), vec![0x8000 | 1, 10]);
        assert_eq!(
            words(&enc("1.5E-3")),
            vec![0x8000 | (4 << 7) | 0x40 | 0x3F, 15]
        );
    }

    #[test]
    fn long_header_when_short_does_not_fit() {
        let b = enc("1e300");
        let w = words(&b);
        assert_eq!(w[0], 0); // positive, dscale 0
        assert_eq!(w[1] as i16, 75);
        assert_eq!(w[2], 1);
        let scale = enc("0.0000000000000000000000000000000000000000000000000000000000000000001");
        assert_eq!(words(&scale)[0], 67);
    }

    #[test]
    fn out_of_range_is_refused() {
        let mut out = Vec::new();
        assert!(encode("1e1001", &mut out).is_err());
        assert!(encode("-", &mut out).is_err());
    }
}
