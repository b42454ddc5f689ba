// Every refusal path of the plugin loader, each with a fixture plugin built
// for it (tests/abi/CMakeLists.txt) and an assertion on the message.
#include <progcap/core/host_services.hpp>
#include <progcap/core/plugin_registry.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace progcap::core;

namespace {

const fs::path kCases = PROGCAP_ABI_FIXTURES;

class LoaderTest : public ::testing::Test {
 protected:
  void TearDown() override { AbiWindow::reset_for_testing(); }

  const PluginInfo& load(const std::string& c, const std::string& file = "libprogcap-source-fixture.so") {
    reg_ = std::make_unique<PluginRegistry>(host_api());
    return reg_->load_file(kCases / c / file);
  }
  std::unique_ptr<PluginRegistry> reg_;
};

#define EXPECT_REFUSED(info, ...)                                             \
  do {                                                                        \
    EXPECT_EQ((info).status, PluginStatus::Refused) << (info).reason;         \
    for (const char* needle : {__VA_ARGS__}) {                                \
      EXPECT_NE((info).reason.find(needle), std::string::npos)                \
          << "expected '" << needle << "' in: " << (info).reason;             \
    }                                                                         \
  } while (0)

TEST_F(LoaderTest, PlainCPluginLoadsAndRuns) {
  const PluginInfo& p = load("ok");
  ASSERT_EQ(p.status, PluginStatus::Loaded) << p.reason;
  EXPECT_EQ(p.name, "source-fixture");
  EXPECT_EQ(p.version, "1.0.0");
  ASSERT_EQ(p.components.size(), 1u);
  auto c = reg_->find(ComponentKind::Source, "fixture");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->streams.size(), 1u);
  EXPECT_EQ(c->streams[0]->name, "rows");
  EXPECT_EQ(c->streams[0]->primary_key(), std::vector<std::string>{"id"});
}

TEST_F(LoaderTest, RefusesWrongMajorBeforeLoading) {
  const PluginInfo& p = load("wrong_major");
  EXPECT_REFUSED(p, "was built for plugin ABI 2.0 (manifest)", "this host supports 1.0", "upgrade progcap");
  EXPECT_EQ(p.abi, "2.0");
}

TEST_F(LoaderTest, RefusesNewerMinorFromManifest) {
  const PluginInfo& p = load("newer_minor");
  EXPECT_REFUSED(p, "was built for plugin ABI 1.1 (manifest)", "this host supports 1.0", "upgrade progcap to a release supporting ABI 1.1");
}

TEST_F(LoaderTest, RefusesNewerMinorFromSymbolWhenManifestIsStale) {
  const PluginInfo& p = load("stale_manifest");
  EXPECT_REFUSED(p, "was built for plugin ABI 1.1;", "this host supports 1.0");
}

TEST_F(LoaderTest, AcceptsOlderMinorInsideTheWindow) {
  AbiWindow w;
  w.max_minor = 3;  // a host that speaks 1.0-1.3 loads a 1.0 plugin
  AbiWindow::set_for_testing(w);
  const PluginInfo& p = load("ok");
  EXPECT_EQ(p.status, PluginStatus::Loaded) << p.reason;
}

TEST_F(LoaderTest, RefusesPluginsOlderThanTheWindow) {
  AbiWindow w;
  w.min_minor = 1;
  w.max_minor = 2;
  AbiWindow::set_for_testing(w);
  const PluginInfo& p = load("ok");
  EXPECT_REFUSED(p, "was built for plugin ABI 1.0 (manifest)", "this host supports 1.1\u20131.2", "rebuild the plugin with progcap-sdk 1.1\u20131.2");
}

TEST_F(LoaderTest, RefusesMissingEntrySymbol) {
  EXPECT_REFUSED(load("missing_entry"), "not a progcap plugin: missing exported symbol progcap_plugin_entry", "PROGCAP_DECLARE_PLUGIN");
}

TEST_F(LoaderTest, RefusesMissingVersionSymbol) {
  EXPECT_REFUSED(load("missing_version"), "missing exported symbol progcap_plugin_abi_version");
}

TEST_F(LoaderTest, RefusesOversizeDescriptor) {
  EXPECT_REFUSED(load("oversize"), "plugin descriptor has struct_size", "built against a newer progcap-sdk than this host");
}

TEST_F(LoaderTest, RefusesEntryReturningNull) { EXPECT_REFUSED(load("entry_null"), "progcap_plugin_entry returned NULL"); }

TEST_F(LoaderTest, RefusesSourceWithoutPoll) { EXPECT_REFUSED(load("no_poll"), "a source needs poll"); }

TEST_F(LoaderTest, RefusesMissingManifest) {
  EXPECT_REFUSED(load("no_manifest"), "manifest libprogcap-source-fixture.json not found next to the library");
}

TEST_F(LoaderTest, RefusesBadFileName) {
  const PluginInfo& p = load("bad_name", "libprogcap-Fixture_1.so");
  EXPECT_REFUSED(p, "does not follow libprogcap-<source|sink|transform|bundle>-<name>.so");
}

TEST_F(LoaderTest, RefusesManifestThatDisagreesWithTheLibrary) {
  EXPECT_REFUSED(load("manifest_mismatch"), "manifest components [source other] differ from the library's [source fixture]");
}

TEST_F(LoaderTest, RefusesManifestNameMismatch) {
  EXPECT_REFUSED(load("name_mismatch"), "manifest name 'source-elsewhere' does not match the file name");
}

TEST_F(LoaderTest, RefusesGarbageFile) {
  const PluginInfo& p = load("garbage", "libprogcap-source-garbage.so");
  EXPECT_REFUSED(p, "cannot be loaded (dlopen)", "check that it is a shared library");
}

TEST_F(LoaderTest, RefusesSharedLibraryWithoutProgcapSymbols) {
  const PluginInfo& p = load("plain", "libprogcap-source-plain.so");
  EXPECT_REFUSED(p, "not a progcap plugin: missing exported symbol progcap_plugin_abi_version");
}

TEST_F(LoaderTest, RefusesDuplicateComponentTypeAndKeepsTheFirst) {
  PluginRegistry reg(host_api());
  reg.discover({kCases / "duplicate_a"});
  ASSERT_EQ(reg.plugins().size(), 2u);
  EXPECT_EQ(reg.plugins()[0].status, PluginStatus::Loaded) << reg.plugins()[0].reason;
  EXPECT_REFUSED(reg.plugins()[1], "duplicate source type 'dup', already provided by", "libprogcap-source-dup-a.so");
  EXPECT_TRUE(reg.find(ComponentKind::Source, "dup"));
}

TEST_F(LoaderTest, PipelineNeedingARefusedPluginSaysWhy) {
  PluginRegistry reg(host_api());
  reg.discover({kCases / "newer_minor"});
  EXPECT_FALSE(reg.find(ComponentKind::Source, "fixture"));
  const std::string why = reg.why_unavailable(ComponentKind::Source, "fixture");
  EXPECT_NE(why.find("source type 'fixture' is unavailable: its plugin libprogcap-source-fixture.so was refused"), std::string::npos) << why;
  EXPECT_NE(why.find("ABI 1.1"), std::string::npos) << why;
}

TEST_F(LoaderTest, UnknownTypeSuggestsTheClosest) {
  PluginRegistry reg(host_api());
  reg.discover({kCases / "ok"});
  const std::string why = reg.why_unavailable(ComponentKind::Source, "fixtur");
  EXPECT_NE(why.find("unknown source type 'fixtur' (did you mean 'fixture'?)"), std::string::npos) << why;
}

TEST_F(LoaderTest, TheSameDirectoryNamedTwiceIsScannedOnce) {
  // e.g. PROGCAP_PLUGIN_PATH pointing at the install's own plugin directory.
  PluginRegistry reg(host_api());
  reg.discover({kCases / "ok", kCases / "ok" / "", kCases / "ok" / "." });
  ASSERT_EQ(reg.plugins().size(), 1u);
  EXPECT_EQ(reg.plugins()[0].status, PluginStatus::Loaded) << reg.plugins()[0].reason;
  EXPECT_TRUE(reg.warnings().empty());
}

TEST_F(LoaderTest, MissingDirectoryIsAWarning) {
  PluginRegistry reg(host_api());
  reg.discover({"/nonexistent/progcap/plugins"});
  ASSERT_EQ(reg.warnings().size(), 1u);
  EXPECT_NE(reg.warnings()[0].find("/nonexistent/progcap/plugins does not exist"), std::string::npos);
}

}  // namespace

namespace {

bool mapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(path) != std::string::npos) return true;
  }
  return false;
}

TEST(PluginLifetimeTest, InstancesKeepTheirLibraryLoadedAndItUnloadsAfterwards) {
  const std::string lib = fs::canonical(kCases / "ok" / "libprogcap-source-fixture.so").string();
  std::shared_ptr<const ComponentInfo> comp;
  {
    PluginRegistry reg(host_api());
    reg.discover({kCases / "ok"});
    comp = reg.find(ComponentKind::Source, "fixture");
    ASSERT_TRUE(comp);
  }  // registry gone; the component still holds the module
  ASSERT_TRUE(mapped(lib));
  progcap_error err;
  void* inst = comp->def.create(nullptr, nullptr, &err);
  ASSERT_NE(inst, nullptr);
  comp->def.destroy(inst);  // code of the library runs fine after the registry died
  comp.reset();
  EXPECT_FALSE(mapped(lib)) << "the fixture library should be unloaded once nothing references it";
}

}  // namespace
