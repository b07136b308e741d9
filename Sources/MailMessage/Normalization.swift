import Foundation

extension Unicode {
    /// Canonical composition (NFC). ASCII is returned as is without touching Foundation.
    static func nfc(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s }
        return s.precomposedStringWithCanonicalMapping
    }
}
