//! Quantities in the canonical form the API server prints them in.

use crate::admission::messages::canonical_quantity;

#[test]
fn canonical_forms() {
    let cases = [
        (".2", "200m"),
        ("0.05", "50m"),
        ("1000m", "1"),
        ("1500", "1500"),
        ("1000", "1k"),
        ("2e3", "2e3"),
        ("10Mi", "10Mi"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1.5Ki", "1536"),
        ("512Ki", "512Ki"),
        ("0.5Ki", "512"),
        ("1M", "1M"),
        ("-200m", "-200m"),
        ("0", "0"),
        ("0Mi", "0"),
    ];
    for (input, expected) in cases {
        let quantity = kip_rules::Quantity::parse(input).expect("valid quantity");
        assert_eq!(canonical_quantity(input, quantity), expected, "{input}");
    }
}
