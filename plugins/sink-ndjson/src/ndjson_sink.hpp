// sink-ndjson: newline-delimited JSON output, written to a temporary file and
// renamed into place only when the step completes.
#pragma once

#include <progcap/sdk/component.hpp>

#include <map>
#include <memory>
#include <string>

namespace progcap::plugins::ndjson {

class NdjsonSink final : public sdk::Sink {
 public:
  static constexpr std::string_view kType = "ndjson";
  static constexpr std::string_view kDescription =
      "Writes rows as newline-delimited JSON: one file per stream in `directory`, or every stream into one `path` "
      "(each line tagged with \"_stream\"), or to stdout. mode replace writes to a temporary name and renames it when the step "
      "completes (an interrupted or failed step leaves <name>.partial, never a half file under the final name); mode append "
      "adds each batch durably (fsync) to the file itself, so checkpoints stay valid across crashes (use it for resumable capture).";

  static inline const auto kDirectory =
      sdk::option<std::string>("directory").describe("directory for <stream>.ndjson files (created if missing)");
  static inline const auto kPath = sdk::option<std::string>("path").describe("one file for every stream; lines carry \"_stream\"");
  static inline const auto kStdout = sdk::option<bool>("stdout").default_value(false).describe("write lines to standard output");
  static inline const auto kMode =
      sdk::option<std::string>("mode").default_value("replace").one_of({"replace", "append"}).describe(
          "replace: a complete export per run; append: durable, resumable accumulation");
  static inline const auto kFsync = sdk::option<bool>("fsync").default_value(true).describe(
      "fsync: in replace mode the file and its directory before and after the rename; in append mode every batch");

  static sdk::OptionList options() { return {kDirectory, kPath, kStdout, kMode, kFsync}; }

  NdjsonSink(sdk::Context ctx, const sdk::Config& cfg);
  ~NdjsonSink() override;

  void prepare(const progcap_schema& schema) override;
  sdk::Status write(const sdk::BatchView& batch) override;
  void flush(uint32_t flags) override;

 private:
  struct Output;
  Output& output_for(std::string_view stream);
  void write_out(Output& out, const std::string& data);

  std::string directory_;
  std::string path_;
  bool stdout_ = false;
  bool append_ = false;
  bool fsync_ = true;
  std::map<std::string, std::unique_ptr<Output>, std::less<>> outputs_;  // by target file
  std::string buf_;
};

}  // namespace progcap::plugins::ndjson
