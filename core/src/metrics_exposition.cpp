// Prometheus text exposition format 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "nioxx/core/metrics.h"

namespace nioxx::metrics {
namespace {

bool validName(std::string_view name, bool allowColon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allowColon && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// HELP text escapes backslash and newline; label values also the double quote.
void appendEscaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void appendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
    out += std::to_string(static_cast<long long>(v));  // counts print as integers
  } else {
    char buf[32];  // shortest text that reads back as the same double
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

}  // namespace

const char* const kContentType = "text/plain; version=0.0.4; charset=utf-8";

Exposition& Exposition::family(std::string_view name, std::string_view help, Type type) {
  if (!validName(name, true)) {
    throw std::invalid_argument("metrics: invalid metric name '" + std::string(name) + "'");
  }
  for (std::size_t i = 0; i < families_.size(); ++i) {
    if (families_[i].name != name) continue;
    if (families_[i].type != type) {
      throw std::invalid_argument("metrics: family '" + std::string(name) +
                                  "' declared again with another type");
    }
    current_ = i;
    return *this;
  }
  families_.push_back(Family{std::string(name), std::string(help), type, {}});
  current_ = families_.size() - 1;
  return *this;
}

Exposition& Exposition::sample(const Labels& labels, double value) {
  if (current_ >= families_.size()) {
    throw std::invalid_argument("metrics: sample() before family()");
  }
  Family& f = families_[current_];
  std::string line = f.name;
  if (!labels.empty()) {
    line += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto& [key, val] = labels[i];
      if (!validName(key, false) || key.starts_with("__")) {
        throw std::invalid_argument("metrics: invalid label name '" + key + "' on " + f.name);
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (labels[j].first == key) {
          throw std::invalid_argument("metrics: label '" + key + "' twice on " + f.name);
        }
      }
      if (i > 0) line += ',';
      line += key;
      line += "=\"";
      appendEscaped(line, val, true);
      line += '"';
    }
    line += '}';
  }
  line += ' ';
  appendValue(line, value);
  f.samples.push_back(std::move(line));
  return *this;
}

std::string Exposition::text() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    appendEscaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == Type::counter ? " counter\n" : " gauge\n";
    for (const std::string& s : f.samples) {
      out += s;
      out += '\n';
    }
  }
  return out;
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry* r = new MetricsRegistry;  // never destroyed: handles may outlive main()
  return *r;
}

MetricsRegistry::Handle MetricsRegistry::add(Collector collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
  return Handle(this, std::prev(collectors_.end()));
}

std::string MetricsRegistry::scrape() {
  Exposition e;
  std::lock_guard lock(mutex_);
  for (const Collector& c : collectors_)
    c(e);
  return e.text();
}

MetricsRegistry::Handle& MetricsRegistry::Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    registry_ = std::exchange(o.registry_, nullptr);
    it_ = o.it_;
  }
  return *this;
}

void MetricsRegistry::Handle::reset() noexcept {
  if (registry_ == nullptr) return;
  std::lock_guard lock(registry_->mutex_);
  registry_->collectors_.erase(it_);
  registry_ = nullptr;
}

}  // namespace nioxx::metrics
