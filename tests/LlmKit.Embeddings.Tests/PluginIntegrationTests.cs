using LlmKit.Plugins.FewShot;
using LlmKit.Plugins.FewShot.Integration;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using LlmKit.Plugins.Moderation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace LlmKit.Embeddings.Tests;

/// <summary>
/// The plugins take the registered generator: the moderator's embedding classifier and the few-shot similarity and MMR
/// selectors run on MiniLM when it is in the container (counted through a pass-through generator around the real one).
/// </summary>
[Collection(MiniLmCollection.Name)]
public sealed class PluginIntegrationTests(MiniLmFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Moderator_embedding_classifier_uses_the_registered_generator()
    {
        string[] yelp = Fixtures.Sentences("yelp_labelled.txt");
        string[] amazon = Fixtures.Sentences("amazon_cells_labelled.txt");
        var counting = new CountingGenerator(fixture.Generator);
        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(counting);
        services.AddDomainModeration(o =>
        {
            o.Domain = "restaurants";
            o.DomainMode = DomainCheckMode.Embedding;
            o.DetectInjection = false;
            o.InDomainExamples = [.. yelp.Take(100)];
            o.OffDomainExamples = [.. amazon.Take(100)];
        });
        await using var provider = services.BuildServiceProvider();
        var moderator = provider.GetRequiredService<DomainModerator>();

        int correct = 0;
        int total = 0;
        foreach (var (text, inDomain) in yelp.Skip(500).Take(40).Select(t => (t, true)).Concat(amazon.Skip(500).Take(40).Select(t => (t, false))))
        {
            var result = await moderator.CheckInputAsync(text);
            Assert.Equal(ModerationPath.EmbeddingClassifier, result.DecidedBy);
            correct += result.Allowed == inDomain ? 1 : 0;
            total++;
        }

        double accuracy = (double)correct / total;
        output.WriteLine($"held-out accuracy {accuracy:F3} ({correct}/{total}); generator calls {counting.Calls}, texts {counting.Texts}");
        Assert.True(counting.Texts >= 200 + total, $"the moderator embedded {counting.Texts} texts through the registered generator");
        // MiniLM separates restaurant from phone reviews well (bench: AUROC ~0.98); 0.85 leaves room for a 80-text sample.
        Assert.True(accuracy >= 0.85, $"held-out accuracy {accuracy:F3}");
    }

    [Theory]
    [InlineData(FewShotSelectorKind.Similarity)]
    [InlineData(FewShotSelectorKind.MaxMarginalRelevance)]
    public async Task Few_shot_selectors_use_the_registered_generator(FewShotSelectorKind kind)
    {
        var examples = new List<FewShotExample>();
        foreach (var (file, domain) in new[] { ("yelp_labelled.txt", "restaurant"), ("amazon_cells_labelled.txt", "phone") })
        {
            foreach (var sentence in Fixtures.Sentences(file).Take(60))
            {
                examples.Add(new FewShotExample(sentence, domain, label: domain));
            }
        }

        var counting = new CountingGenerator(fixture.Generator);
        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(counting);
        services.AddSingleton(new FewShotExampleStore(examples));
        services.AddFewShot(o => o.Selector = kind);
        await using var provider = services.BuildServiceProvider();
        Assert.Same(counting, provider.GetRequiredService<ExampleEmbeddingCache>().Generator);
        var selector = provider.GetRequiredService<IFewShotSelector>();

        // Queries that share no content word with any example's domain name: only meaning links them.
        var selected = await selector.SelectAsync("The charger stopped working and the screen flickers.", 4);
        output.WriteLine(string.Join(" | ", selected.Select(s => $"{s.Example.Label}: {s.Example.Input}")));
        Assert.Equal(4, selected.Count);
        Assert.True(selected.Count(s => s.Example.Label == "phone") >= 3, "most picks should be phone reviews");
        selected = await selector.SelectAsync("The waitress brought us cold soup and stale bread.", 4);
        Assert.True(selected.Count(s => s.Example.Label == "restaurant") >= 3, "most picks should be restaurant reviews");
        Assert.True(counting.Texts >= examples.Count + 2, $"embedded {counting.Texts} texts through the registered generator");
    }

    /// <summary>A pass-through generator that counts what flows through it (the real MiniLM does the work).</summary>
    private sealed class CountingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        private int _calls;
        private int _texts;

        public int Calls => Volatile.Read(ref _calls);

        public int Texts => Volatile.Read(ref _texts);

        public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            var list = values.ToList();
            Interlocked.Increment(ref _calls);
            Interlocked.Add(ref _texts, list.Count);
            return base.GenerateAsync(list, options, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            // The shared fixture owns the real generator; the container must not dispose it.
        }
    }
}
