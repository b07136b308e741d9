import Foundation
import GRDB

/// Stored instants read by arithmetic instead of through Foundation's calendar.
///
/// GRDB stores a `Date` as UTC text, `yyyy-MM-dd HH:mm:ss.SSS`, and reads it back with `Calendar`,
/// which costs microseconds per value; a page of 50 requests reads about 200 of them. This reads
/// that one form directly, to the very `Date` GRDB would give (`StoredInstantTests` compares the
/// two), and leaves every other form (another precision, a number) to GRDB.
extension Row {
    /// The instant in `column`, `nil` when it is `NULL`.
    func instant(_ column: String) -> Date? {
        let parsed = (try? withUnsafeData(named: column) { data -> StoredInstant.Parsed in
            guard let data else { return .null }
            return data.withUnsafeBytes { StoredInstant.parse(UnsafeRawBufferPointer($0)) }
        }) ?? .otherForm
        switch parsed {
        case .null: return nil
        case .instant(let date): return date
        case .otherForm: return self[column]
        }
    }
}

/// GRDB's text form of an instant, `yyyy-MM-dd HH:mm:ss.SSS` in UTC.
enum StoredInstant {
    enum Parsed: Equatable {
        case null
        case instant(Date)
        /// Not this exact form: GRDB reads it.
        case otherForm
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Parsed {
        guard bytes.count == 23, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: " "),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: ".")
        else { return .otherForm }
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for index in from..<(from + count) {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2), let millisecond = number(20, 3),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return .otherForm }
        // As Foundation builds it, to the last bit: the day's start since 2001, plus the time of day
        // with its fraction. Adding the fraction to the whole seconds instead rounds differently for
        // about one instant in 50,000.
        let dayStart = Double(daysSince1970(year: year, month: month, day: day) * 86_400 - 978_307_200)
        let timeOfDay = Double(hour * 3_600 + minute * 60 + second) + Double(millisecond * 1_000_000) / 1_000_000_000
        return .instant(Date(timeIntervalSinceReferenceDate: dayStart + timeOfDay))
    }

    /// Days from 1970-01-01 to the given day of the proleptic Gregorian calendar.
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
