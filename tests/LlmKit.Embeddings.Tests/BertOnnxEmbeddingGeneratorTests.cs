using System.Numerics.Tensors;
using LlmKit.Embeddings.Tokenization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;

namespace LlmKit.Embeddings.Tests;

/// <summary>Behaviour of the generator on the real MiniLM model: batching, truncation, pooling settings, DI, cancellation.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class BertOnnxEmbeddingGeneratorTests(MiniLmFixture fixture)
{
    // Same graph, different padding/batch shape: fp32 sums in another order, ~1e-7 per component (see EmbeddingParityTests).
    private const float BatchTolerance = 1e-5f;

    [Fact]
    public void Folder_settings_are_read()
    {
        Assert.Equal(384, fixture.Generator.Dimensions);
        Assert.Equal(EmbeddingPoolingMode.Mean, fixture.Generator.PoolingMode);
        Assert.True(fixture.Generator.NormalizeEmbeddings);
        Assert.Equal(256, fixture.Generator.MaximumTokens);
        Assert.True(fixture.Tokenizer.LowerCase);
    }

    [Fact]
    public async Task Batched_results_equal_single_results_in_the_callers_order()
    {
        string[] texts = ["short", "a much longer sentence that needs padding for the others in its batch", "", "mid length text here"];
        var batched = await fixture.Generator.GenerateAsync(texts);
        Assert.Equal(texts.Length, batched.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            float[] single = fixture.Generator.Embed([texts[i]])[0];
            AssertClose(single, batched[i].Vector.ToArray(), BatchTolerance);
            Assert.Equal(MiniLmModel.ModelName, batched[i].ModelId);
        }

        long expectedTokens = texts.Sum(t => (long)fixture.Generator.CountTokens(t));
        Assert.Equal(expectedTokens, batched.Usage?.InputTokenCount);
    }

    [Fact]
    public void Long_input_is_truncated_by_default_and_rejected_when_asked()
    {
        string longText = string.Join(' ', Enumerable.Repeat("restaurant", 300));
        Assert.True(fixture.Generator.CountTokens(longText) > fixture.Generator.MaximumTokens);

        // Truncation keeps the first 255 tokens and [SEP]: the same as a text cut to 254 words.
        string cut = string.Join(' ', Enumerable.Repeat("restaurant", 254));
        AssertClose(fixture.Generator.Embed([cut])[0], fixture.Generator.Embed([longText])[0], BatchTolerance);

        using var strict = BertOnnxEmbeddingGenerator.Load(fixture.Folder, new BertOnnxOptions { TruncateLongInput = false, MaximumTokens = 16 });
        var ex = Assert.Throws<ArgumentException>(() => strict.Embed(["ok", longText]));
        Assert.Contains("Input 1 has", ex.Message, StringComparison.Ordinal);
        Assert.Contains("at most 16", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pooling_and_normalisation_options_win_over_the_folder()
    {
        using var cls = BertOnnxEmbeddingGenerator.Load(fixture.Folder, new BertOnnxOptions { PoolingMode = EmbeddingPoolingMode.Cls, NormalizeEmbeddings = false });
        Assert.Equal(EmbeddingPoolingMode.Cls, cls.PoolingMode);
        float[] clsVector = cls.Embed(["The soup was cold."])[0];
        float[] meanVector = fixture.Generator.Embed(["The soup was cold."])[0];
        Assert.NotInRange(TensorPrimitives.Norm(clsVector), 0.99f, 1.01f);
        Assert.True(TensorPrimitives.CosineSimilarity(clsVector, meanVector) < 0.999f);
    }

    [Fact]
    public void A_pooling_config_in_the_folder_selects_cls()
    {
        string folder = CopyFolderWithPooling("""{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
        try
        {
            using var generator = BertOnnxEmbeddingGenerator.Load(folder);
            Assert.Equal(EmbeddingPoolingMode.Cls, generator.PoolingMode);
            Assert.True(generator.NormalizeEmbeddings);
            Assert.Equal(512, generator.MaximumTokens); // no sentence_bert_config.json: tokenizer_config's model_max_length
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Missing_files_are_named()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"llmkit-empty-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var ex = Assert.Throws<FileNotFoundException>(() => BertOnnxEmbeddingGenerator.Load(folder));
            Assert.Contains("model.onnx", ex.Message, StringComparison.Ordinal);
            Assert.Throws<DirectoryNotFoundException>(() => BertOnnxEmbeddingGenerator.Load(folder + "-missing"));
            Assert.Throws<ArgumentOutOfRangeException>(() => BertOnnxEmbeddingGenerator.Load(fixture.Folder, new BertOnnxOptions { BatchSize = 0 }));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Generator.GenerateAsync(["one", "two"], cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Registered_like_semantic_kernels_connector_on_services_and_kernel_builder()
    {
        string model = Path.Combine(fixture.Folder, "model.onnx");
        string vocab = Path.Combine(fixture.Folder, "vocab.txt");

        var services = new ServiceCollection();
        services.AddBertOnnxEmbeddingGenerator(onnxModelPath: model, vocabPath: vocab, options: new BertOnnxOptions { IntraOpThreads = 1 });
        await using (var provider = services.BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            Assert.Same(provider.GetRequiredService<BertOnnxEmbeddingGenerator>(), generator);
            var embedding = await generator.GenerateAsync("The waiter was rude.");
            AssertClose(fixture.Generator.Embed(["The waiter was rude."])[0], embedding.Vector.ToArray(), BatchTolerance);
            Assert.Equal(384, generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelDimensions);
        }

        var builder = Kernel.CreateBuilder();
        builder.AddBertOnnxEmbeddingGenerator(model, vocab, serviceId: "minilm");
        var kernel = builder.Build();
        var keyed = kernel.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("minilm");
        Assert.Null(kernel.Services.GetService<IEmbeddingGenerator<string, Embedding<float>>>());
        Assert.Equal(384, (await keyed.GenerateAsync("hello")).Vector.Length);
        (kernel.Services as IDisposable)?.Dispose();
    }

    [Fact]
    public async Task Stream_overload_gives_the_same_vectors_with_the_same_settings()
    {
        var services = new ServiceCollection();
        using (var model = File.OpenRead(Path.Combine(fixture.Folder, "model.onnx")))
        using (var vocab = File.OpenRead(Path.Combine(fixture.Folder, "vocab.txt")))
        {
            services.AddBertOnnxEmbeddingGenerator(onnxModelStream: model, vocabStream: vocab, options: new BertOnnxOptions { MaximumTokens = 256, IntraOpThreads = 1 });
        }

        await using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<BertOnnxEmbeddingGenerator>();
        Assert.Equal(EmbeddingPoolingMode.Mean, generator.PoolingMode);
        Assert.True(generator.NormalizeEmbeddings);
        AssertClose(fixture.Generator.Embed(["Cold fries."])[0], generator.Embed(["Cold fries."])[0], BatchTolerance);
    }

    [Fact]
    public async Task AddLlmKitEmbeddings_registers_the_offline_minilm()
    {
        var services = new ServiceCollection();
        services.AddLlmKitEmbeddings(o => o.Model = o.Model with { IntraOpThreads = 1 });
        await using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        Assert.Equal(MiniLmModel.ModelName, generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId);
        var embedding = await generator.GenerateAsync("Great tacos.");
        AssertClose(fixture.Generator.Embed(["Great tacos."])[0], embedding.Vector.ToArray(), BatchTolerance);
    }

    private string CopyFolderWithPooling(string poolingJson)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"llmkit-cls-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(folder, "1_Pooling"));
        // A symbolic link keeps the 91 MB model out of the copy.
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), Path.Combine(fixture.Folder, "model.onnx"));
        File.Copy(Path.Combine(fixture.Folder, "vocab.txt"), Path.Combine(folder, "vocab.txt"));
        File.Copy(Path.Combine(fixture.Folder, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"));
        File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"), poolingJson);
        return folder;
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"component {i}: {expected[i]} vs {actual[i]} (tolerance {tolerance})");
        }
    }
}
