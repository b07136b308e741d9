import CCurl

extension MailTransportError {
    /// Turns a libcurl failure into an error naming `operation` and `place`.
    ///
    /// - Parameters:
    ///   - code: libcurl's result code.
    ///   - detail: libcurl's error buffer text.
    ///   - replyCode: the protocol reply code (SMTP), when the server answered.
    ///   - serverLine: the server's last line, when it answered.
    ///   - operation: what was being done, e.g. `SMTP delivery` or `IMAP login`.
    ///   - place: who and where, e.g. `for gateway@example.test at imap://127.0.0.1:1143`.
    static func fromCurl(
        _ code: CURLcode,
        detail: String,
        replyCode: Int?,
        serverLine: String?,
        operation: String,
        place: String
    ) -> MailTransportError {
        let curl = Int(code.rawValue)
        let prefix = "\(operation) failed \(place)"
        // A server reply (SMTP 4xx/5xx) says more than libcurl's summary of it.
        if let replyCode, replyCode >= 400, code != CURLE_OPERATION_TIMEDOUT, code != CURLE_ABORTED_BY_CALLBACK {
            let text = serverLine.map { stripReplyCode($0) }
            let kind: Kind = (replyCode == 535 || replyCode == 534 || replyCode == 454 && code == CURLE_LOGIN_DENIED) ? .authentication : .serverRejected
            let shown = text.map { "\(replyCode) \($0)" } ?? "\(replyCode) (\(detail))"
            return MailTransportError(kind: kind, message: "\(prefix): server replied \(shown)", replyCode: replyCode, serverText: text, curlCode: curl)
        }
        let kind: Kind
        var explanation = detail
        switch code {
        case CURLE_COULDNT_CONNECT:
            kind = .connectionRefused
            explanation = "connection refused or unreachable (\(detail))"
        case CURLE_COULDNT_RESOLVE_HOST:
            kind = .hostNotFound
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_PEER_FAILED_VERIFICATION:
            kind = .certificateVerification
            explanation = "the server's TLS certificate could not be verified (\(detail)); set the CA file that signed it"
        case CURLE_SSL_CACERT_BADFILE:
            kind = .configuration
            explanation = "the CA file could not be read (\(detail))"
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER:
            kind = .tls
            explanation = "TLS handshake failed (\(detail))"
        case CURLE_USE_SSL_FAILED:
            kind = .tls
            explanation = "the server does not offer STARTTLS, which is required (\(detail))"
        case CURLE_LOGIN_DENIED:
            kind = .authentication
            if let serverLine { explanation = stripIMAPTag(serverLine) }
        case CURLE_ABORTED_BY_CALLBACK:
            kind = .cancelled
            explanation = "cancelled"
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN:
            kind = .configuration
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
            kind = .connectionLost
        default:
            kind = .protocolViolation
        }
        return MailTransportError(kind: kind, message: "\(prefix): \(explanation)", serverText: serverLine, curlCode: curl)
    }

    /// `550 5.1.1 <a@b>: Recipient address rejected` -> `5.1.1 <a@b>: Recipient address rejected`.
    static func stripReplyCode(_ line: String) -> String {
        var rest = Substring(line)
        if rest.count >= 3, rest.prefix(3).allSatisfy(\.isNumber) {
            rest = rest.dropFirst(3)
            if rest.first == "-" || rest.first == " " { rest = rest.dropFirst() }
        }
        return String(rest)
    }

    /// `A002 NO [AUTHENTICATIONFAILED] Authentication failed.` -> `[AUTHENTICATIONFAILED] Authentication failed.`
    static func stripIMAPTag(_ line: String) -> String {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if parts.count == 3, ["NO", "BAD", "BYE"].contains(parts[1].uppercased()) { return String(parts[2]) }
        return line
    }
}
