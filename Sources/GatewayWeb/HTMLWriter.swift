import Foundation
import GatewayTemplates

/// Builds HTML text: markup as given, text HTML-escaped (`&`, `<`, `>`, `"`, `'`), as the
/// template engine escapes it.
///
/// The pieces of markup are static strings, copied as they are; values go through ``raw(_:)``
/// when they need no escaping (numbers, fixed words) and ``text(_:)`` otherwise.
struct HTMLWriter {
    private var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// The HTML written so far.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends a piece of markup.
    mutating func markup(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends a value known to need no escaping, as it is.
    mutating func raw(_ value: String) {
        var value = value
        value.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Appends `value` HTML-escaped (``HTMLEscaping``).
    mutating func text(_ value: String) {
        HTMLEscaping.append(value, to: &bytes)
    }

    /// Appends `date` as ``WebFormat/date(_:)`` writes it (`2026-11-27 16:15 UTC`), without an
    /// intermediate string.
    mutating func date(_ date: Date) {
        let time = CivilTime(date)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        if time.year >= 1_000, time.year <= 9_999 { digits(time.year, 4) } else { raw(String(time.year)) }
        bytes.append(UInt8(ascii: "-"))
        digits(time.month, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(time.day, 2)
        bytes.append(UInt8(ascii: " "))
        digits(time.hour, 2)
        bytes.append(UInt8(ascii: ":"))
        digits(time.minute, 2)
        markup(" UTC")
    }

    /// `value` HTML-escaped.
    static func escape(_ value: String) -> String {
        var writer = HTMLWriter(capacity: value.utf8.count + 8)
        writer.text(value)
        return writer.text
    }

    /// The `<option>` elements of a select: each choice's value and label, the one whose value is
    /// `selected` marked so.
    static func options(_ choices: [(value: String, label: String)], selected: String) -> String {
        var writer = HTMLWriter(capacity: choices.count * 48)
        for choice in choices {
            writer.markup("<option value=\"")
            writer.text(choice.value)
            writer.markup(choice.value == selected ? "\" selected>" : "\">")
            writer.text(choice.label)
            writer.markup("</option>")
        }
        return writer.text
    }
}
