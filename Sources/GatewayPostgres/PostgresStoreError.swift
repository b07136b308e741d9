import PostgresNIO

/// A failure of the PostgreSQL store, with the server's message when there is one.
///
/// PostgresNIO keeps server messages out of its errors' descriptions so that they do not leak by
/// accident; the store puts them back (message, SQLSTATE, detail), because an operator needs to
/// read why a migration or a connection failed. Query parameters are never included.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The SQLSTATE code when the server refused a statement (e.g. `40001`).
    public var sqlState: String?

    public init(_ message: String, sqlState: String? = nil) {
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }

    /// SQLSTATE codes after which the whole transaction may simply run again: serialization
    /// failure and deadlock.
    static let retryableStates: Set<String> = ["40001", "40P01"]

    static func isRetryable(_ error: any Error) -> Bool {
        if let error = error as? PostgresStoreError { return error.sqlState.map(retryableStates.contains) ?? false }
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState].map(retryableStates.contains) ?? false }
        return false
    }

    /// The error in the store's form, with the server's explanation.
    static func wrap(_ error: any Error) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        guard let error = error as? PSQLError else { return PostgresStoreError("\(error)") }
        if let info = error.serverInfo {
            var text = info[.message] ?? "the server refused the statement"
            if let detail = info[.detail] { text += " (\(detail))" }
            if let state = info[.sqlState] { text += " [SQLSTATE \(state)]" }
            return PostgresStoreError(text, sqlState: info[.sqlState])
        }
        if error.code == .authMechanismRequiresPassword {
            return PostgresStoreError("the server asks for a password and none was given (set \(PostgresPassword.environmentVariable) or add a line to the PGPASSFILE)")
        }
        if let underlying = error.underlying { return PostgresStoreError("\(error.code): \(underlying)") }
        return PostgresStoreError("\(error.code)")
    }
}
