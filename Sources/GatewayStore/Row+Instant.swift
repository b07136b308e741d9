import Foundation
import GRDB
import GRDBSQLite
import GatewayCore

/// Stored instants read and written by arithmetic instead of through Foundation's calendar and
/// date formatter.
///
/// GRDB stores a `Date` as UTC text, `yyyy-MM-dd HH:mm:ss.SSS`, writing it with a `DateFormatter`
/// and reading it back with `Calendar`, which costs microseconds per value; a page of 50 requests
/// reads about 200 of them, and binds the current time to several queries. This reads that one
/// form directly, to the very `Date` GRDB would give, and writes the very text GRDB would write
/// (`StoredInstantTests` compares both), and leaves every other form (another precision, a
/// number, a year outside 1900 to 9999) to GRDB.
extension Row {
    /// The instant in `column`, `nil` when it is `NULL`.
    func instant(_ column: String) -> Date? {
        (self[column] as StoredInstant.Column?)?.date
    }

    /// The instant in the column at `index`, `nil` when it is `NULL`; read from the statement's
    /// own text, without copying it, while the row is a cursor's.
    func instant(atIndex index: Int) -> Date? {
        (self[index] as StoredInstant.Column?)?.date
    }
}

/// GRDB's text form of an instant, `yyyy-MM-dd HH:mm:ss.SSS` in UTC.
enum StoredInstant {
    enum Parsed: Equatable {
        case instant(Date)
        /// Not this exact form: GRDB reads it.
        case otherForm
    }

    /// An instant column: GRDB hands a statement's column to ``init(sqliteStatement:index:)``,
    /// which parses SQLite's own text in place; a copied row's value comes through
    /// ``fromDatabaseValue(_:)``.
    struct Column: DatabaseValueConvertible, StatementColumnConvertible {
        var date: Date

        init(date: Date) {
            self.date = date
        }

        init?(sqliteStatement: SQLiteStatement, index: CInt) {
            // Only a TEXT value is read as text: asking SQLite for the text of a number would
            // convert the column's value in place.
            if sqlite3_column_type(sqliteStatement, index) == SQLITE_TEXT, let text = sqlite3_column_text(sqliteStatement, index),
               case .instant(let date) = parse(UnsafeRawBufferPointer(start: text, count: Int(sqlite3_column_bytes(sqliteStatement, index)))) {
                self.date = date
            } else if let date = Date(sqliteStatement: sqliteStatement, index: index) {
                self.date = date
            } else {
                return nil
            }
        }

        var databaseValue: DatabaseValue { StoredInstant.value(date) }

        static func fromDatabaseValue(_ value: DatabaseValue) -> Column? {
            if case .string(var text) = value.storage,
               case .instant(let date) = text.withUTF8({ parse(UnsafeRawBufferPointer($0)) }) {
                return Column(date: date)
            }
            return Date.fromDatabaseValue(value).map(Column.init(date:))
        }
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
        let dayStart = Double(CivilDay(year: year, month: month, day: day).daysSince1970 * 86_400 - 978_307_200)
        let timeOfDay = Double(hour * 3_600 + minute * 60 + second) + Double(millisecond * 1_000_000) / 1_000_000_000
        return .instant(Date(timeIntervalSinceReferenceDate: dayStart + timeOfDay))
    }

    /// `date` as a query argument, stored as GRDB stores it.
    static func value(_ date: Date) -> DatabaseValue {
        text(date).map { $0.databaseValue } ?? date.databaseValue
    }

    /// The text GRDB writes for `date` (to the nearest millisecond), or `nil` for
    /// a year outside 1900 to 9999, which GRDB's formatter writes itself.
    static func text(_ date: Date) -> String? {
        // As the formatter hands a date to ICU: milliseconds since 1970, half a millisecond rounded up.
        let milliseconds = (date.timeIntervalSince1970 * 1_000 + 0.5).rounded(.down)
        guard milliseconds >= -2_208_988_800_000, milliseconds < 253_402_300_800_000 else { return nil }
        let total = Int64(milliseconds)
        let millisecondsPerDay: Int64 = 86_400_000
        let days = total >= 0 ? total / millisecondsPerDay : (total - millisecondsPerDay + 1) / millisecondsPerDay
        let ofDay = Int(total - days * millisecondsPerDay)
        let civil = CivilDay(daysSince1970: Int(days))
        return String(unsafeUninitializedCapacity: 23) { buffer in
            func put(_ value: Int, at start: Int, digits: Int) {
                var rest = value
                for offset in stride(from: digits - 1, through: 0, by: -1) {
                    buffer[start + offset] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
            }
            put(civil.year, at: 0, digits: 4)
            buffer[4] = UInt8(ascii: "-")
            put(civil.month, at: 5, digits: 2)
            buffer[7] = UInt8(ascii: "-")
            put(civil.day, at: 8, digits: 2)
            buffer[10] = UInt8(ascii: " ")
            put(ofDay / 3_600_000, at: 11, digits: 2)
            buffer[13] = UInt8(ascii: ":")
            put(ofDay / 60_000 % 60, at: 14, digits: 2)
            buffer[16] = UInt8(ascii: ":")
            put(ofDay / 1_000 % 60, at: 17, digits: 2)
            buffer[19] = UInt8(ascii: ".")
            put(ofDay % 1_000, at: 20, digits: 3)
            return 23
        }
    }
}
