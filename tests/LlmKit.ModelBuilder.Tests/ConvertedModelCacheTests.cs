namespace LlmKit.ModelBuilder.Tests;

public class ConvertedModelCacheTests
{
    private static void WriteEntry(string folder, string content)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "genai_config.json"), content);
    }

    [Fact]
    public void An_entry_is_created_once_and_served_from_then_on()
    {
        using var temp = new TempFolder();
        var cache = new ConvertedModelCache(temp.Path);
        int created = 0;

        string first = cache.GetOrCreate("model-abc", f => { created++; WriteEntry(f, "one"); });
        string second = cache.GetOrCreate("model-abc", f => { created++; WriteEntry(f, "two"); });

        Assert.Equal(1, created);
        Assert.Equal(first, second);
        Assert.Equal("one", File.ReadAllText(Path.Combine(first, "genai_config.json")));
        Assert.Equal(["model-abc", Path.Combine("model-abc", "genai_config.json")], temp.Entries());
    }

    [Fact]
    public void Creating_an_entry_deletes_entries_unused_past_the_age_and_abandoned_staging_folders_only()
    {
        using var temp = new TempFolder();
        var now = DateTime.UtcNow;
        void Folder(string name, TimeSpan age)
        {
            WriteEntry(Path.Combine(temp.Path, name), name);
            Directory.SetLastWriteTimeUtc(Path.Combine(temp.Path, name), now - age);
        }

        Folder("stale", TimeSpan.FromDays(15));
        Folder("recent", TimeSpan.FromDays(13));
        Folder(".dead.staging-1", TimeSpan.FromDays(2));
        Folder(".busy.staging-2", TimeSpan.FromHours(1)); // another process may still be converting
        var cache = new ConvertedModelCache(temp.Path, TimeSpan.FromDays(14));

        cache.GetOrCreate("new", f => WriteEntry(f, "new"));

        string[] left = [.. Directory.EnumerateDirectories(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Equal([".busy.staging-2", "new", "recent"], left);
    }

    [Fact]
    public void Using_an_entry_keeps_it_from_being_pruned()
    {
        using var temp = new TempFolder();
        var cache = new ConvertedModelCache(temp.Path, TimeSpan.FromDays(14));
        string entry = cache.GetOrCreate("used", f => WriteEntry(f, "x"));
        Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow - TimeSpan.FromDays(30));

        cache.GetOrCreate("used", f => throw new InvalidOperationException("must not be created again"));
        new ConvertedModelCache(temp.Path, TimeSpan.FromDays(14)).GetOrCreate("other", f => WriteEntry(f, "y"));

        Assert.True(Directory.Exists(entry));
        Assert.True(DateTime.UtcNow - Directory.GetLastWriteTimeUtc(entry) < TimeSpan.FromHours(1));
    }

    [Fact]
    public void A_failed_creation_leaves_neither_the_entry_nor_its_staging_folder()
    {
        using var temp = new TempFolder();
        var cache = new ConvertedModelCache(temp.Path);

        var error = Assert.Throws<InvalidOperationException>(() => cache.GetOrCreate("broken", f =>
        {
            WriteEntry(f, "half");
            throw new InvalidOperationException("converter failed");
        }));

        Assert.Equal("converter failed", error.Message);
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void Concurrent_requests_for_one_entry_all_get_a_complete_folder()
    {
        using var temp = new TempFolder();
        var cache = new ConvertedModelCache(temp.Path);
        string[] paths = [.. Enumerable.Range(0, 8).AsParallel().Select(i => cache.GetOrCreate("shared", f =>
        {
            WriteEntry(f, "content");
            Thread.Sleep(20); // widen the race between creators
        }))];

        Assert.Single(paths.Distinct());
        Assert.Equal("content", File.ReadAllText(Path.Combine(paths[0], "genai_config.json")));
        Assert.Equal(["shared", Path.Combine("shared", "genai_config.json")], temp.Entries());
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    public void Bad_names_and_ages_are_rejected(string name)
    {
        using var temp = new TempFolder();
        var cache = new ConvertedModelCache(temp.Path);
        Assert.ThrowsAny<ArgumentException>(() => cache.GetOrCreate(name, _ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConvertedModelCache(temp.Path, TimeSpan.Zero));
    }
}

/// <summary>A cache location that cannot hold a cache fails naming the path and the problem (issue 17, finding 5).</summary>
public class ConvertedModelCacheLocationTests
{
    [Fact]
    public void A_file_in_place_of_the_cache_folder_is_named()
    {
        using var temp = new TempFolder();
        string root = temp.File("cache");
        File.WriteAllText(root, "not a folder");
        var cache = new ConvertedModelCache(root);

        var error = Assert.Throws<IOException>(() => cache.GetOrCreate("entry", f => Directory.CreateDirectory(f)));

        Assert.Equal($"Cache folder '{root}' is a file, not a folder; remove the file or choose another cache location.", error.Message);
        Assert.Equal("not a folder", File.ReadAllText(root));
    }

    [Fact]
    public void A_cache_folder_below_a_file_is_named_with_the_file()
    {
        using var temp = new TempFolder();
        string file = temp.File("blocker");
        File.WriteAllText(file, "x");
        string root = Path.Combine(file, "llmkit", "models");
        var cache = new ConvertedModelCache(root);

        var error = Assert.Throws<IOException>(() => cache.GetOrCreate("entry", f => Directory.CreateDirectory(f)));

        Assert.Equal($"Cache folder '{root}' cannot be created: '{file}' is a file, not a folder. Choose another cache location.", error.Message);
    }

    [Fact]
    public void A_cache_folder_nobody_can_create_is_named()
    {
        // Tests run as root, so file modes stop nothing; /proc refuses new folders to everyone.
        Assert.True(OperatingSystem.IsLinux() && Directory.Exists("/proc/self"), "This test needs Linux's /proc.");
        string root = "/proc/llmkit-cache-test/models";
        var cache = new ConvertedModelCache(root);
        bool created = false;

        var error = Assert.Throws<IOException>(() => cache.GetOrCreate("entry", f => created = true));

        Assert.StartsWith($"Cache folder '{root}' cannot be created (", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("Choose a writable cache location.", error.Message, StringComparison.Ordinal);
        Assert.False(created);
    }

    [Fact]
    public void An_existing_cache_folder_that_is_not_writable_is_named()
    {
        // /proc/self exists but accepts no new folders, even from root.
        Assert.True(OperatingSystem.IsLinux() && Directory.Exists("/proc/self"), "This test needs Linux's /proc.");
        var cache = new ConvertedModelCache("/proc/self");

        var error = Assert.Throws<IOException>(() => cache.GetOrCreate("entry", f => Directory.CreateDirectory(f)));

        Assert.StartsWith("Cache folder '/proc/self' is not writable (", error.Message, StringComparison.Ordinal);
    }
}
