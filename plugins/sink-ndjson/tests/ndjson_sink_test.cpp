// sink-ndjson through the C ABI with the SDK's FakeHost (no core linked).
#include "../src/ndjson_sink.hpp"

#include <progcap/sdk/plugin.hpp>
#include <progcap/sdk/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

PROGCAP_DECLARE_PLUGIN("sink-ndjson", "test", "under test", progcap::plugins::ndjson::NdjsonSink)

namespace fs = std::filesystem;
using progcap::sdk::testing::FakeHost;
using progcap::sdk::testing::OwnedRow;

namespace {

const progcap::sdk::Stream& test_stream() {
  static const progcap::sdk::Stream s = [] {
    progcap::sdk::Stream st("prs");
    st.field("id", progcap::sdk::Type::Int64, progcap::sdk::kPrimaryKey)
        .field("title", progcap::sdk::Type::String)
        .field("merged_at", progcap::sdk::Type::Timestamp)
        .field("draft", progcap::sdk::Type::Bool)
        .field("labels", progcap::sdk::Type::Json);
    return st;
  }();
  return s;
}

class NdjsonSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ndjson-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    desc_ = progcap_plugin_entry(host_.api());
    ASSERT_NE(desc_, nullptr);
  }
  void TearDown() override { fs::remove_all(dir_); }

  FakeHost::Instance* make(std::vector<std::pair<std::string, progcap::sdk::testing::OwnedValue>> opts) {
    opts.emplace_back("mode", FakeHost::str(mode_));
    opts.emplace_back("stdout", FakeHost::boolean(false));
    opts.emplace_back("fsync", FakeHost::boolean(true));
    return host_.create(desc_, "ndjson", opts);
  }
  std::vector<OwnedRow> rows(int from, int to) const {
    std::vector<OwnedRow> out;
    for (int i = from; i < to; ++i) {
      out.push_back({FakeHost::integer(int64_t{1} << 40 | i), FakeHost::str("t\"" + std::to_string(i) + "\n"),
                     i % 2 ? FakeHost::timestamp(1704067200123456LL) : FakeHost::null(), FakeHost::boolean(i % 3 == 0),
                     FakeHost::json("[\"bug\"]")});
    }
    return out;
  }
  std::string read(const fs::path& p) const {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  FakeHost host_;
  const progcap_plugin_descriptor* desc_ = nullptr;
  fs::path dir_;
  std::string mode_ = "replace";
};

TEST_F(NdjsonSinkTest, WritesExactJsonAndOnlyRenamesOnCompletion) {
  auto* s = make({{"directory", FakeHost::str(dir_.string())}});
  ASSERT_NE(s, nullptr) << host_.last_error.message;
  ASSERT_EQ(host_.write(s, test_stream().abi(), rows(0, 2)), PROGCAP_PENDING)
      << "replace mode: durable only once renamed at the end, so checkpoints must wait" << host_.last_error.message;
  EXPECT_FALSE(fs::exists(dir_ / "prs.ndjson")) << "nothing may appear under the final name before flush";
  ASSERT_EQ(host_.flush(s), PROGCAP_OK);
  EXPECT_EQ(read(dir_ / "prs.ndjson"),
            "{\"id\":1099511627776,\"title\":\"t\\\"0\\n\",\"merged_at\":null,\"draft\":true,\"labels\":[\"bug\"]}\n"
            "{\"id\":1099511627777,\"title\":\"t\\\"1\\n\",\"merged_at\":\"2024-01-01T00:00:00.123456Z\",\"draft\":false,\"labels\":[\"bug\"]}\n");
}

TEST_F(NdjsonSinkTest, InterruptedStepLeavesAPartialFileNotAFinalOne) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "prs.ndjson") << "previous complete output\n";
  auto* s = make({{"directory", FakeHost::str(dir_.string())}});
  ASSERT_EQ(host_.write(s, test_stream().abi(), rows(0, 3)), PROGCAP_PENDING);
  ASSERT_EQ(host_.flush(s, PROGCAP_FLUSH_INTERRUPTED), PROGCAP_OK);
  EXPECT_EQ(read(dir_ / "prs.ndjson"), "previous complete output\n");
  const std::string partial = read(dir_ / "prs.ndjson.partial");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), '\n'), 3);
}

TEST_F(NdjsonSinkTest, DestroyWithoutFlushRemovesTemporaryFiles) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / ".prs.ndjson.tmp-999999999-1") << "left by a killed run";
  auto* s = make({{"directory", FakeHost::str(dir_.string())}});
  EXPECT_FALSE(fs::exists(dir_ / ".prs.ndjson.tmp-999999999-1")) << "stale temporary files of dead processes are removed";
  ASSERT_EQ(host_.write(s, test_stream().abi(), rows(0, 3)), PROGCAP_PENDING);
  host_.destroy(s);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(NdjsonSinkTest, AppendModeKeepsExistingLines) {
  mode_ = "append";
  fs::create_directories(dir_);
  std::ofstream(dir_ / "all.ndjson") << "{\"old\":1}\n";
  auto* s = make({{"path", FakeHost::str((dir_ / "all.ndjson").string())}});
  ASSERT_EQ(host_.write(s, test_stream().abi(), rows(0, 1)), PROGCAP_OK) << "append mode is durable per batch";
  ASSERT_EQ(host_.flush(s), PROGCAP_OK);
  const std::string text = read(dir_ / "all.ndjson");
  EXPECT_EQ(text.rfind("{\"old\":1}\n{\"_stream\":\"prs\",\"id\":1099511627776,", 0), 0u) << text;
}

TEST_F(NdjsonSinkTest, AppendModeIsDurablePerBatchAndRepairsATornLastLine) {
  mode_ = "append";
  fs::create_directories(dir_);
  std::ofstream(dir_ / "prs.ndjson") << "{\"id\":1}\n{\"id\":2,\"tit";  // a crash mid-write
  auto* s = make({{"directory", FakeHost::str(dir_.string())}});
  ASSERT_EQ(host_.write(s, test_stream().abi(), rows(5, 6)), PROGCAP_OK);
  // Acknowledged means on disk under the final name, before any flush.
  const std::string text = read(dir_ / "prs.ndjson");
  EXPECT_EQ(text.rfind("{\"id\":1}\n{\"id\":1099511627781,", 0), 0u) << text;
  host_.destroy(s);  // a crash now loses nothing that was acknowledged
  EXPECT_EQ(read(dir_ / "prs.ndjson"), text);
}

TEST_F(NdjsonSinkTest, RequiresExactlyOneTarget) {
  progcap_error err;
  auto* s = host_.create(desc_, "ndjson",
                         {{"mode", FakeHost::str("replace")}, {"stdout", FakeHost::boolean(false)}, {"fsync", FakeHost::boolean(true)}}, &err);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(err.code, PROGCAP_ERR_CONFIG);
  EXPECT_NE(err.message.find("set exactly one of 'directory', 'path' or 'stdout: true'"), std::string::npos) << err.message;
}

TEST_F(NdjsonSinkTest, UnwritableDirectoryIsAConfigError) {
  std::ofstream(fs::path(dir_.string() + ".file")) << "x";
  progcap_error err;
  auto* s = host_.create(desc_, "ndjson",
                         {{"directory", FakeHost::str(dir_.string() + ".file/sub")}, {"mode", FakeHost::str("replace")},
                          {"stdout", FakeHost::boolean(false)}, {"fsync", FakeHost::boolean(true)}},
                         &err);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(err.code, PROGCAP_ERR_CONFIG);
  fs::remove(dir_.string() + ".file");
}

}  // namespace
