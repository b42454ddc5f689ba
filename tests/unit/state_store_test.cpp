#include <progcap/core/state_store.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace progcap::core;

namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progcap-state-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StateStoreTest, PersistsAcrossReopen) {
  {
    FileStateStore s(dir_, "p");
    s.put("a", "1");
    s.commit("b", "two");
    s.put("a", "3");
    EXPECT_TRUE(s.erase("b"));
    EXPECT_FALSE(s.erase("b"));
  }
  FileStateStore s(dir_, "p");
  EXPECT_EQ(s.get("a").value_or(""), "3");
  EXPECT_FALSE(s.get("b").has_value());
}

TEST_F(StateStoreTest, IgnoresATornLastRecord) {
  {
    FileStateStore s(dir_, "p");
    s.commit("cursor", "41");
  }
  {
    std::ofstream f(dir_ / "p.state", std::ios::app);
    f << "{\"k\":\"cursor\",\"v\":\"9";  // crash mid-write: no newline
  }
  FileStateStore s(dir_, "p");
  EXPECT_EQ(s.get("cursor").value_or(""), "41");
  s.commit("cursor", "42");  // the torn bytes were truncated, so the journal stays valid
  EXPECT_EQ(s.get("cursor").value_or(""), "42");
}

TEST_F(StateStoreTest, SecondProcessGetsAClearError) {
  FileStateStore s(dir_, "p");
  try {
    FileStateStore t(dir_, "p");
    FAIL() << "a second open of the same state file must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is in use by another progcap process"), std::string::npos) << e.what();
  }
}

TEST_F(StateStoreTest, CompactsWhenMostlyGarbage) {
  std::string big(1000, 'x');
  {
    FileStateStore s(dir_, "p");
    for (int i = 0; i < 6000; ++i) s.put("k", big + std::to_string(i));
  }
  // 6 MB were written; compaction while writing keeps the journal below ~4 MB
  EXPECT_LT(fs::file_size(dir_ / "p.state"), 4u * 1024u * 1024u + 2048u);
  FileStateStore s(dir_, "p");  // and reopening compacts what is left
  EXPECT_LT(fs::file_size(dir_ / "p.state"), 4096u);
  EXPECT_EQ(s.get("k").value_or(""), big + "5999");
}

TEST_F(StateStoreTest, ScanByPrefix) {
  MemoryStateStore s;
  s.put("p/a/1", "x");
  s.put("p/a/2", "y");
  s.put("p/b/1", "z");
  auto m = s.scan("p/a/");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["p/a/2"], "y");
}

TEST_F(StateStoreTest, OverlayNeverWritesThrough) {
  auto base = std::make_shared<FileStateStore>(dir_, "p");
  base->commit("cursor", "10");
  OverlayStateStore dry(base);
  EXPECT_EQ(dry.get("cursor").value_or(""), "10");
  dry.commit("cursor", "99");
  dry.erase("other");
  EXPECT_EQ(dry.get("cursor").value_or(""), "99");
  EXPECT_EQ(base->get("cursor").value_or(""), "10");
}

}  // namespace
