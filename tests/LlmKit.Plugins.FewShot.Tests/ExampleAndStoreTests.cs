using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;

namespace LlmKit.Plugins.FewShot.Tests;

public class ExampleAndStoreTests
{
    [Fact]
    public void Example_rejects_blank_input_and_null_output()
    {
        var blank = Assert.Throws<ArgumentException>(() => new FewShotExample("  ", "x"));
        Assert.Equal("input", blank.ParamName);
        var nullOutput = Assert.Throws<ArgumentNullException>(() => new FewShotExample("x", null!));
        Assert.Equal("output", nullOutput.ParamName);
    }

    [Fact]
    public void Example_normalises_empty_label_and_metadata()
    {
        var example = new FewShotExample("in", "out", label: "");
        Assert.Null(example.Label);
        Assert.Empty(example.Metadata);
    }

    [Fact]
    public void Store_version_grows_on_every_change_and_snapshots_are_immutable()
    {
        var store = new FewShotExampleStore();
        Assert.Equal(0, store.Version);
        var a = TestSupport.Example("a", "1");
        store.Add(a);
        var before = store.GetSnapshot();
        store.AddRange([TestSupport.Example("b", "2"), TestSupport.Example("c", "3")]);
        Assert.Equal(2, store.Version);
        Assert.Single(before.Examples); // the earlier snapshot did not change
        Assert.Equal(3, store.Count);
        Assert.True(store.Remove(a));
        Assert.False(store.Remove(a));
        Assert.Equal(3, store.Version);
        store.Clear();
        Assert.Equal(0, store.Count);
        Assert.Equal(4, store.Version);
    }

    [Fact]
    public void Store_rejects_null_items_with_their_position()
    {
        var store = new FewShotExampleStore();
        var ex = Assert.Throws<ArgumentNullException>(() => store.AddRange([TestSupport.Example("a", "1"), null!]));
        Assert.Contains("Item 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public async Task Embeddings_are_computed_once_and_recomputed_after_a_change()
    {
        var store = new FewShotExampleStore([TestSupport.Example("the cat sat", "1"), TestSupport.Example("a dog ran", "2")]);
        var generator = new CountingEmbeddingGenerator();
        var cache = new ExampleEmbeddingCache(store, generator);
        var selector = new SemanticSimilaritySelector(cache);

        await selector.SelectAsync("cat", 1);
        await selector.SelectAsync("dog", 1);
        await selector.SelectAsync("bird", 1);
        Assert.Equal(1, cache.BuildCount);
        Assert.Equal(2 + 3, generator.TextsEmbedded); // two examples once, plus one embedding per query

        store.Add(TestSupport.Example("a bird flew", "3"));
        var result = await selector.SelectAsync("bird flew", 1);
        Assert.Equal(2, cache.BuildCount);
        Assert.Equal("a bird flew", result[0].Example.Input);
    }

    [Fact]
    public async Task Large_pools_are_embedded_in_batches_that_line_up_with_the_examples()
    {
        // 600 examples = batches of 256, 256 and 88; every example must still find itself.
        var store = new FewShotExampleStore(Enumerable.Range(0, 600).Select(i => TestSupport.Example($"item {i} of the big pool", $"{i}")));
        var generator = new CountingEmbeddingGenerator();
        var selector = new SemanticSimilaritySelector(store, generator);
        foreach (int i in new[] { 0, 255, 256, 511, 512, 599 })
        {
            Assert.Equal($"{i}", (await selector.SelectAsync($"item {i} of the big pool", 1))[0].Example.Output);
        }

        Assert.Equal(600 + 6, generator.TextsEmbedded);
    }

    [Fact]
    public async Task Concurrent_first_use_builds_the_cache_once()
    {
        var store = new FewShotExampleStore(Enumerable.Range(0, 200).Select(i => TestSupport.Example($"sentence number {i}", $"{i}")));
        var cache = new ExampleEmbeddingCache(store, new CountingEmbeddingGenerator());
        var selector = new SemanticSimilaritySelector(cache);
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => selector.SelectAsync($"sentence number {i}", 1))));
        Assert.Equal(1, cache.BuildCount);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal($"sentence number {i}", results[i][0].Example.Input);
        }
    }
}
