package koo.kafka;

import java.io.FileInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

/**
 * The local stack's stand-in for MSK's IAM authentication: validates the SASL/OAUTHBEARER tokens
 * that aws-msk-iam-sasl-signer-js makes (a base64url SigV4-presigned URL of
 * `https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect`), as MSK does: the action,
 * the host and the credential scope agree, the token is within its X-Amz-Expires, and the
 * signature is the one the secret of its access key gives. The access keys it knows are in the
 * properties file named by the JAAS option `credentialsFile` (access key id = secret), written by
 * infra/stack/services/kafka.sh. What MSK then authorizes (the IAM policy) is not emulated.
 */
public final class MskIamTokenValidator implements AuthenticateCallbackHandler {
  private static final Pattern HOST = Pattern.compile("kafka\\.([a-z0-9-]+)\\.amazonaws\\.com");
  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final String EMPTY_PAYLOAD_SHA256 =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private final Properties secrets = new Properties();

  @Override
  public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> jaas) {
    Object file = jaas.get(0).getOptions().get("credentialsFile");
    if (file == null) throw new IllegalArgumentException("MskIamTokenValidator: no credentialsFile option");
    try (FileInputStream in = new FileInputStream(file.toString())) {
      secrets.load(in);
    } catch (IOException e) {
      throw new IllegalArgumentException("MskIamTokenValidator: cannot read " + file, e);
    }
  }

  @Override
  public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
    for (Callback callback : callbacks) {
      if (callback instanceof OAuthBearerValidatorCallback v) {
        try {
          v.token(validate(v.tokenValue()));
        } catch (InvalidToken e) {
          v.error("invalid_token", null, null);
        }
      } else if (!(callback instanceof OAuthBearerExtensionsValidatorCallback)) {
        throw new UnsupportedCallbackException(callback);
      }
    }
  }

  @Override
  public void close() {}

  private static final class InvalidToken extends Exception {
    InvalidToken(String message) {
      super(message);
    }
  }

  private OAuthBearerToken validate(String token) throws InvalidToken {
    URI url;
    try {
      url = URI.create(new String(java.util.Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw new InvalidToken("not a base64url URL");
    }
    Matcher host = HOST.matcher(String.valueOf(url.getHost()));
    if (!"https".equals(url.getScheme()) || !host.matches()) throw new InvalidToken("not an MSK URL");
    Map<String, String> query = new TreeMap<>();
    for (String pair : String.valueOf(url.getRawQuery()).split("&")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) throw new InvalidToken("malformed query");
      query.put(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
    }
    String[] scope = query.getOrDefault("X-Amz-Credential", "").split("/");
    if (!"kafka-cluster:Connect".equals(query.get("Action"))
        || !"AWS4-HMAC-SHA256".equals(query.get("X-Amz-Algorithm"))
        || !"host".equals(query.get("X-Amz-SignedHeaders"))
        || scope.length != 5
        || !scope[2].equals(host.group(1))
        || !"kafka-cluster".equals(scope[3])
        || !"aws4_request".equals(scope[4])) throw new InvalidToken("not a kafka-cluster:Connect token");
    Instant signedAt;
    long expiresSeconds;
    try {
      signedAt = Instant.from(AMZ_DATE.parse(query.get("X-Amz-Date")));
      expiresSeconds = Long.parseLong(query.get("X-Amz-Expires"));
    } catch (RuntimeException e) {
      throw new InvalidToken("no signing time");
    }
    Instant now = Instant.now();
    Instant expiresAt = signedAt.plusSeconds(Math.min(expiresSeconds, 900));
    if (now.isAfter(expiresAt) || signedAt.isAfter(now.plusSeconds(300))) throw new InvalidToken("expired");
    String secret = secrets.getProperty(scope[0]);
    if (secret == null) throw new InvalidToken("unknown access key");
    String signature = query.get("X-Amz-Signature");
    boolean valid = false;
    for (String payloadHash : new String[] {EMPTY_PAYLOAD_SHA256, "UNSIGNED-PAYLOAD"})
      valid |= MessageDigest.isEqual(
          String.valueOf(signature).getBytes(StandardCharsets.UTF_8),
          sign(secret, scope, query, url.getHost(), payloadHash).getBytes(StandardCharsets.UTF_8));
    if (!valid) throw new InvalidToken("bad signature");
    String principal = scope[0];
    long lifetimeMs = expiresAt.toEpochMilli();
    long startMs = signedAt.toEpochMilli();
    return new OAuthBearerToken() {
      public String value() {
        return token;
      }

      public Set<String> scope() {
        return Set.of();
      }

      public long lifetimeMs() {
        return lifetimeMs;
      }

      public String principalName() {
        return principal;
      }

      public Long startTimeMs() {
        return startMs;
      }
    };
  }

  /** The SigV4 signature of the presigned GET: every query parameter but the signature and the User-Agent added after signing. */
  private static String sign(String secret, String[] scope, Map<String, String> query, String host, String payloadHash) {
    StringBuilder canonicalQuery = new StringBuilder();
    for (Map.Entry<String, String> p : query.entrySet()) {
      if (p.getKey().equals("X-Amz-Signature") || p.getKey().equals("User-Agent")) continue;
      if (canonicalQuery.length() > 0) canonicalQuery.append('&');
      canonicalQuery.append(encode(p.getKey())).append('=').append(encode(p.getValue()));
    }
    String canonicalRequest = String.join("\n", "GET", "/", canonicalQuery, "host:" + host, "", "host", payloadHash);
    String credentialScope = String.join("/", scope[1], scope[2], scope[3], scope[4]);
    String stringToSign =
        String.join("\n", "AWS4-HMAC-SHA256", query.get("X-Amz-Date"), credentialScope, hex(sha256(canonicalRequest)));
    byte[] key = ("AWS4" + secret).getBytes(StandardCharsets.UTF_8);
    for (int i = 1; i < 5; i++) key = hmac(key, scope[i]);
    return hex(hmac(key, stringToSign));
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  /** RFC 3986: unreserved characters as they are, every other byte %XX (SigV4's URI encoding). */
  private static String encode(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || "-_.~".indexOf(c) >= 0)
        out.append(c);
      else out.append('%').append(String.format("%02X", b & 0xff));
    }
    return out.toString();
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }
}
