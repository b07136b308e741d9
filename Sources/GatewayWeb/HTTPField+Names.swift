public import HTTPTypes

extension HTTPField.Name {
    /// `Referrer-Policy`.
    public static var referrerPolicy: Self { Self("Referrer-Policy")! }
    /// `X-Frame-Options`.
    public static var xFrameOptions: Self { Self("X-Frame-Options")! }
}

extension HTTPField.Name {
    /// `X-Forwarded-For`, read only from trusted reverse proxies.
    public static var xForwardedFor: Self { Self("X-Forwarded-For")! }
}
