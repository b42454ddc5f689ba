// GitHub App authentication: RS256 JWTs signed with OpenSSL.
#include <progcap/github/client.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <vector>

namespace progcap::github {

std::string base64url(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) | static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

namespace {

std::string openssl_error() {
  std::string msg;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!msg.empty()) msg += "; ";
    msg += buf;
  }
  return msg.empty() ? "unknown OpenSSL error" : msg;
}

/// PEM text from an environment value: accepts literal "\n" sequences.
std::string normalise_pem(const std::string& pem) {
  if (pem.find('\n') != std::string::npos) return pem;
  std::string out;
  for (size_t i = 0; i < pem.size(); ++i) {
    if (pem[i] == '\\' && i + 1 < pem.size() && pem[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += pem[i];
    }
  }
  return out;
}

}  // namespace

std::string make_app_jwt(const std::string& app_id, const std::string& pem_in, int64_t now_s, int64_t ttl_s) {
  const std::string pem = normalise_pem(pem_in);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) throw sdk::AuthError("cannot read the GitHub App private key: " + openssl_error());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) {
    throw sdk::AuthError("the GitHub App private key (app_private_key / CONTRIBUTOR_APP_PRIVATE_KEY) is not a PEM private key: " +
                         openssl_error());
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    throw sdk::AuthError("the GitHub App private key must be an RSA key (GitHub signs App JWTs with RS256)");
  }
  const std::string header = base64url(R"({"alg":"RS256","typ":"JWT"})");
  const std::string payload = base64url("{\"iat\":" + std::to_string(now_s - 60) + ",\"exp\":" + std::to_string(now_s + ttl_s) +
                                        ",\"iss\":\"" + app_id + "\"}");
  const std::string input = header + "." + payload;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t siglen = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSignUpdate(md.get(), input.data(), input.size()) != 1 || EVP_DigestSignFinal(md.get(), nullptr, &siglen) != 1) {
    throw sdk::AuthError("cannot sign the GitHub App JWT: " + openssl_error());
  }
  std::vector<unsigned char> sig(siglen);
  if (EVP_DigestSignFinal(md.get(), sig.data(), &siglen) != 1) throw sdk::AuthError("cannot sign the GitHub App JWT: " + openssl_error());
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(sig.data()), siglen));
}

}  // namespace progcap::github
