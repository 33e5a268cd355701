using LlmKit.Embeddings;
using LlmKit.Plugins.FewShot.Evaluation;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using LlmKit.Testing;

namespace LlmKit.Plugins.FewShot.Tests;

/// <summary>Real third-party data: UCI sentiment-labelled sentences (yelp + amazon, 2,000 sentences), seeded 80/20 split.</summary>
public class SentimentDatasetTests
{
    private static readonly DelimitedExampleFormat SentimentFormat = new()
    {
        Delimiter = '\t',
        Quoted = false,
        HasHeader = false,
        InputColumn = "0",
        OutputColumn = null,
        LabelColumn = "1",
        LabelNames = new Dictionary<string, string> { ["0"] = "negative", ["1"] = "positive" },
    };

    private static async Task<ExampleSplit> LoadSplitAsync()
    {
        var all = new List<FewShotExample>();
        foreach (var name in new[] { "yelp_labelled.txt", "amazon_cells_labelled.txt" })
        {
            all.AddRange(await FewShotExampleLoader.LoadDelimitedAsync(SharedFixtures.File($"datasets/sentiment-sentences/{name}"), SentimentFormat));
        }

        return ExampleSplit.Create(all, trainFraction: 0.8, seed: 42);
    }

    [Fact]
    public async Task Similarity_selects_same_label_examples_more_often_than_random()
    {
        var split = await LoadSplitAsync();
        Assert.Equal((1600, 400), (split.Train.Count, split.Test.Count));
        var store = new FewShotExampleStore(split.Train);

        var similarity = await SelectorEvaluation.EvaluateAsync(new SemanticSimilaritySelector(store, new HashingEmbeddingGenerator()), split.Test, count: 4);
        var random = await SelectorEvaluation.EvaluateAsync(new RandomSelector(store, seed: 42), split.Test, count: 4);

        // Random selection from a balanced pool agrees with the query's label about half the time; the 95% interval over
        // 400 queries is about ±0.04 wide, so requiring the intervals not to overlap is a real, not a lucky, difference.
        Assert.InRange(random.LabelAgreement.Value, 0.44, 0.56);
        Assert.True(similarity.LabelAgreement.Low > random.LabelAgreement.High,
            $"similarity {similarity.LabelAgreement} vs random {random.LabelAgreement}");
        Assert.True(similarity.KnnAccuracy.Value > random.KnnAccuracy.Value,
            $"kNN vote: similarity {similarity.KnnAccuracy} vs random {random.KnnAccuracy}");
    }

    [Fact]
    public void Split_is_reproducible_and_disjoint()
    {
        var examples = Enumerable.Range(0, 100).Select(i => TestSupport.Example($"s{i}", "o")).ToArray();
        var a = ExampleSplit.Create(examples, 0.8, seed: 5);
        var b = ExampleSplit.Create(examples, 0.8, seed: 5);
        Assert.Equal(a.Train, b.Train);
        Assert.Equal((80, 20), (a.Train.Count, a.Test.Count));
        Assert.Empty(a.Train.Intersect(a.Test));
        Assert.NotEqual(a.Train, ExampleSplit.Create(examples, 0.8, seed: 6).Train);
        Assert.Equal("trainFraction", Assert.Throws<ArgumentOutOfRangeException>(() => ExampleSplit.Create(examples, 1.0, 0)).ParamName);
    }

    [Fact]
    public async Task Evaluation_counts_agreement_votes_and_wilson_interval()
    {
        // Ten queries, each answered by the same fixed selection of three "pos" and one "neg" example.
        var fixedSelection = new[] { ("neg", 1.0), ("pos", 0.9), ("pos", 0.8), ("pos", 0.7) }
            .Select(x => new SelectedExample(TestSupport.Example("e", x.Item1, x.Item1), x.Item2)).ToArray();
        var queries = Enumerable.Range(0, 10).Select(i => TestSupport.Example($"q{i}", "o", i < 8 ? "pos" : "neg")).ToArray();
        var result = await SelectorEvaluation.EvaluateAsync(new Fixed(fixedSelection), queries, 4);

        // Agreement: 8 queries × 3/4 and 2 queries × 1/4 → (6 + 0.5) / 10 = 0.65. Majority vote "pos" is right 8 times of 10.
        Assert.Equal(0.65, result.LabelAgreement.Value, 12);
        Assert.Equal(0.8, result.KnnAccuracy.Value, 12);
        // Wilson 95% for 8/10, worked by hand: centre 0.71674, half-width 0.22658 → [0.4902, 0.9433].
        Assert.Equal(0.4902, result.KnnAccuracy.Low, 3);
        Assert.Equal(0.9433, result.KnnAccuracy.High, 3);
        Assert.Equal("neg", SelectorEvaluation.MajorityLabel(fixedSelection[..2])); // a 1–1 tie goes to the best-ranked label
    }

    private sealed class Fixed(SelectedExample[] selection) : IFewShotSelector
    {
        public Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<SelectedExample>>(selection.Take(count).ToArray());
    }
}
