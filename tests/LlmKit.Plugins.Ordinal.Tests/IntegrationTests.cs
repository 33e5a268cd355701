using System.Text.Json;
using LlmKit.Embeddings;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Integration;
using LlmKit.Plugins.Ordinal.Metrics;
using LlmKit.Plugins.Ordinal.Persistence;
using LlmKit.Plugins.Ordinal.Training;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Ordinal.Tests;

/// <summary>Texts end to end: real hashing embeddings, a trained head, the SK plugin and DI registration.</summary>
public class IntegrationTests
{
    private static readonly Lazy<Task<OrdinalClassifier>> Severity = new(() => BuildSeverityClassifier(OrdinalHeadKind.Corn));

    private static async Task<OrdinalClassifier> BuildSeverityClassifier(OrdinalHeadKind kind, IEmbeddingGenerator<string, Embedding<float>>? embeddings = null)
    {
        var builder = new OrdinalClassifierBuilder(SeverityTexts.Labels, embeddings ?? new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = 512 }))
            .WithTrainerOptions(OrdinalClassifierBuilder.DefaultTrainerOptions with { Head = kind, Epochs = 40, Seed = 1 });
        foreach (var (text, rank) in SeverityTexts.Train)
        {
            builder.Add(text, SeverityTexts.Labels[rank]);
        }

        return await builder.BuildAsync();
    }

    [Theory]
    [InlineData(OrdinalHeadKind.Coral)]
    [InlineData(OrdinalHeadKind.Corn)]
    [InlineData(OrdinalHeadKind.CumulativeLink)]
    public async Task Rates_held_out_severity_texts_by_their_cues(OrdinalHeadKind kind)
    {
        var classifier = await BuildSeverityClassifier(kind);
        var heldOut = SeverityTexts.HeldOut.ToArray();
        var ratings = await classifier.RateAsync(heldOut.Select(t => t.Text).ToArray());
        int[] actual = heldOut.Select(t => t.Rank).ToArray();
        int[] predicted = ratings.Select(r => r.Rank).ToArray();

        // Held-out services share every cue with training, so a working pipeline is nearly perfect; MAE < 0.25 and
        // κ > 0.9 leave room for a few confusions between neighbouring ranks while failing any broken link in the chain.
        double mae = OrdinalMetrics.MeanAbsoluteError(actual, predicted);
        double qwk = OrdinalMetrics.QuadraticWeightedKappa(actual, predicted, SeverityTexts.Labels.Length);
        Assert.True(mae < 0.25, $"{kind}: MAE {mae:F3}");
        Assert.True(qwk > 0.9, $"{kind}: QWK {qwk:F3}");

        var outage = await classifier.RateAsync("the reporting tool has a complete outage");
        var typo = await classifier.RateAsync("the reporting tool has a small typo");
        Assert.True(outage.ExpectedRank > typo.ExpectedRank + 1.5, $"outage {outage.ExpectedRank:F2} vs typo {typo.ExpectedRank:F2}");
    }

    [Fact]
    public async Task Kernel_function_returns_label_probabilities_and_expected_rank_as_json()
    {
        var classifier = await Severity.Value;
        var builder = Kernel.CreateBuilder();
        builder.AddOrdinalClassifier(classifier.Model, pluginName: "severity");
        var kernel = builder.Build();

        var result = await kernel.InvokeAsync("severity", "rate", new KernelArguments { ["text"] = "Ticket: everything down on the payroll system" });
        using var json = JsonDocument.Parse(result.GetValue<string>()!);
        var root = json.RootElement;

        string label = root.GetProperty("label").GetString()!;
        int rank = root.GetProperty("rank").GetInt32();
        double expected = root.GetProperty("expected_rank").GetDouble();
        var probabilities = root.GetProperty("probabilities").EnumerateArray().ToArray();

        Assert.Equal("critical", label);
        Assert.Equal(SeverityTexts.Labels[rank], label);
        Assert.InRange(expected, 0, SeverityTexts.Labels.Length - 1);
        Assert.Equal(SeverityTexts.Labels, probabilities.Select(p => p.GetProperty("label").GetString()));
        // Five float probabilities from differences of a monotone sequence: they sum to 1 within float rounding.
        Assert.Equal(1.0, probabilities.Sum(p => p.GetProperty("probability").GetDouble()), 1e-5);

        var scale = await kernel.InvokeAsync("severity", "scale");
        Assert.Equal(SeverityTexts.Labels, JsonSerializer.Deserialize<string[]>(scale.GetValue<string>()!));
    }

    [Fact]
    public async Task Di_loads_the_model_from_configuration_and_falls_back_to_hashing_embeddings()
    {
        var classifier = await Severity.Value;
        string path = Path.Combine(Path.GetTempPath(), $"severity-{Guid.NewGuid():N}.json");
        await OrdinalModelSerializer.SaveToFileAsync(classifier.Model, path);
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["LlmKit:Ordinal:ModelPath"] = path,
                    ["LlmKit:Ordinal:PluginName"] = "severity",
                })
                .Build();
            var services = new ServiceCollection();
            services.AddOrdinalClassifier(configuration.GetSection("LlmKit:Ordinal"));
            services.AddTransient(sp => new Kernel(sp));
            using var provider = services.BuildServiceProvider();

            var fromDi = provider.GetRequiredService<OrdinalClassifier>();
            const string text = "Status update for the vpn: frequent crashes.";
            var direct = await classifier.RateAsync(text);
            var viaDi = await fromDi.RateAsync(text);
            // The fallback hashing generator has the model's width (512) and default settings, as at training: identical output.
            Assert.Equal(direct.Exceedance, viaDi.Exceedance);
            Assert.Equal("major", viaDi.Label);

            var kernel = provider.GetRequiredService<Kernel>();
            Assert.True(kernel.Plugins.TryGetFunction("severity", "rate", out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Di_uses_the_registered_embedding_generator_instead_of_the_fallback()
    {
        // A generator with non-default settings stands in for a model-based one: same width as the fallback would
        // have, different vectors, so only the registered generator reproduces the directly built classifier.
        var custom = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = 128, MaxWordNGram = 1, MinCharNGram = 0 });
        var direct = await BuildSeverityClassifier(OrdinalHeadKind.Coral, custom);

        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(custom);
        services.AddOrdinalClassifier(direct.Model);
        using var provider = services.BuildServiceProvider();
        var fromDi = provider.GetRequiredService<OrdinalClassifier>();

        var fallbackServices = new ServiceCollection();
        fallbackServices.AddOrdinalClassifier(direct.Model);
        using var fallbackProvider = fallbackServices.BuildServiceProvider();
        var fallback = fallbackProvider.GetRequiredService<OrdinalClassifier>();

        const string text = "Users say the vpn shows some errors";
        var expected = (await direct.RateAsync(text)).Exceedance;
        Assert.Equal(expected, (await fromDi.RateAsync(text)).Exceedance);
        Assert.NotEqual(expected, (await fallback.RateAsync(text)).Exceedance);
    }

    [Fact]
    public async Task Di_falls_back_to_hashing_of_the_heads_width_when_the_registered_generator_is_wider()
    {
        // A head trained on the 512-wide hashing features, in a container whose generator (e.g. a 384-d sentence encoder
        // registered for the other plugins) has another width: the head keeps the features it was trained on.
        var head = await Severity.Value;
        var services = new ServiceCollection();
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = 384 }));
        services.AddOrdinalClassifier(head.Model);
        using var provider = services.BuildServiceProvider();
        var fromDi = provider.GetRequiredService<OrdinalClassifier>();

        const string text = "Users say the vpn shows some errors";
        Assert.Equal((await head.RateAsync(text)).Exceedance, (await fromDi.RateAsync(text)).Exceedance);
    }

    [Fact]
    public void Di_without_a_model_path_fails_with_a_clear_message()
    {
        var services = new ServiceCollection();
        services.AddOrdinalClassifier(_ => { });
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<ArgumentException>(() => provider.GetRequiredService<OrdinalClassifier>());
        Assert.Contains("ModelPath is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_generator_of_the_wrong_width_is_rejected()
    {
        var classifier = await Severity.Value;
        var wrong = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = 256 });
        var error = Assert.Throws<ArgumentException>(() => new OrdinalClassifier(wrong, classifier.Model));
        Assert.Contains("256-dimensional", error.Message, StringComparison.Ordinal);
        Assert.Equal("embeddings", error.ParamName);
    }

    [Fact]
    public async Task Builder_rejects_unknown_labels_and_empty_training()
    {
        var builder = new OrdinalClassifierBuilder(SeverityTexts.Labels);
        var unknown = Assert.Throws<ArgumentException>(() => builder.Add("text", "catastrophic"));
        Assert.Contains("not one of the declared ranks", unknown.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.Add("text", 5));
        await Assert.ThrowsAsync<InvalidOperationException>(() => builder.BuildAsync());
        Assert.Throws<ArgumentException>(() => new OrdinalClassifierBuilder(["only one"]));
    }

    [Fact]
    public async Task Cancellation_reaches_the_embedding_call()
    {
        var classifier = await Severity.Value;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => classifier.RateAsync("anything", cts.Token));
    }
}
