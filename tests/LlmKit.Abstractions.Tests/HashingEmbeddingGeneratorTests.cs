using System.Numerics.Tensors;
using LlmKit.Embeddings;
using Microsoft.Extensions.AI;

namespace LlmKit.Abstractions.Tests;

public class HashingEmbeddingGeneratorTests
{
    // Vectors are float32 and normalised by one division: 1e-5 is ~100 ulps at magnitude 1.
    private const float Tolerance = 1e-5f;

    private static float Cosine(HashingEmbeddingGenerator g, string a, string b) => TensorPrimitives.Dot(g.Embed(a), g.Embed(b));

    [Fact]
    public void Same_text_gives_the_same_vector_across_instances()
    {
        var a = new HashingEmbeddingGenerator().Embed("Few-shot examples help small models.");
        var b = new HashingEmbeddingGenerator().Embed("Few-shot examples help small models.");
        Assert.Equal(a, b); // bit-identical: the hash is FNV-1a, not the per-process randomised string hash
    }

    [Fact]
    public void Vectors_are_unit_length_with_the_configured_dimension()
    {
        var generator = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Dimensions = 256 });
        foreach (var text in new[] { "a", "Hello, world!", "Ünïcödé 文字 😀", new string('x', 5000) })
        {
            var vector = generator.Embed(text);
            Assert.Equal(256, vector.Length);
            Assert.Equal(1f, TensorPrimitives.Norm(vector), Tolerance);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   \t\n")]
    public void Empty_text_gives_the_zero_vector(string? text)
    {
        var vector = new HashingEmbeddingGenerator().Embed(text);
        Assert.Equal(1024, vector.Length);
        Assert.All(vector, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Similar_texts_are_closer_than_unrelated_ones()
    {
        var g = new HashingEmbeddingGenerator();
        float similar = Cosine(g, "The cat sat on the mat.", "A cat was sitting on the mat.");
        float unrelated = Cosine(g, "The cat sat on the mat.", "Quarterly revenue grew by twelve percent.");
        Assert.True(similar > unrelated + 0.2f, $"similar {similar}, unrelated {unrelated}");
        Assert.InRange(unrelated, -0.15f, 0.15f); // signed hashing keeps chance overlap near zero
        Assert.Equal(1f, Cosine(g, "Same words", "same WORDS"), Tolerance); // lower-cased by default
    }

    [Fact]
    public void Character_ngrams_make_typos_close()
    {
        var withChars = new HashingEmbeddingGenerator();
        var wordsOnly = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { MinCharNGram = 0 });
        float typoWithChars = Cosine(withChars, "receive", "recieve");
        float typoWordsOnly = Cosine(wordsOnly, "receive", "recieve");
        // By hand: "<receive>" and "<recieve>" each have 7 + 6 + 5 character 3- to 5-grams (weight 0.5) and one word
        // (weight 1); they share "<re", "rec", "ve>" and "<rec". cos = 4·0.25 / (18·0.25 + 1) = 2/11, if no buckets collide.
        Assert.Equal(2f / 11, typoWithChars, Tolerance);
        Assert.Equal(0f, typoWordsOnly, Tolerance); // two different words share no feature
    }

    [Fact]
    public void Case_is_kept_when_lowercasing_is_off()
    {
        var g = new HashingEmbeddingGenerator(new HashingEmbeddingOptions { Lowercase = false });
        Assert.True(Cosine(g, "Apple", "apple") < 0.99f);
    }

    [Fact]
    public async Task GenerateAsync_returns_the_same_vectors_as_Embed_in_order()
    {
        var g = new HashingEmbeddingGenerator();
        string[] texts = ["first text", "second text", ""];
        var embeddings = await g.GenerateAsync(texts);
        Assert.Equal(texts.Length, embeddings.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(g.Embed(texts[i]), embeddings[i].Vector.ToArray());
        }

        var metadata = Assert.IsType<EmbeddingGeneratorMetadata>(g.GetService(typeof(EmbeddingGeneratorMetadata)));
        Assert.Equal(1024, metadata.DefaultModelDimensions);
        Assert.Same(g, g.GetService(typeof(IEmbeddingGenerator<string, Embedding<float>>)));
        Assert.Null(g.GetService(typeof(EmbeddingGeneratorMetadata), serviceKey: "other"));
    }

    [Fact]
    public async Task GenerateAsync_validates_and_honours_cancellation()
    {
        var g = new HashingEmbeddingGenerator();
        Assert.Equal("values", (await Assert.ThrowsAsync<ArgumentNullException>(() => g.GenerateAsync(null!))).ParamName);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => g.GenerateAsync(["x"], cancellationToken: cts.Token));
    }

    [Fact]
    public void Concurrent_use_gives_identical_vectors()
    {
        var g = new HashingEmbeddingGenerator();
        var texts = Enumerable.Range(0, 64).Select(i => $"text number {i} with some words").ToArray();
        var expected = texts.Select(g.Embed).ToArray();
        var actual = new float[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => actual[i] = g.Embed(texts[i]));
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }
    }

    public static TheoryData<HashingEmbeddingOptions, string> InvalidOptions => new()
    {
        { new HashingEmbeddingOptions { Dimensions = 15 }, "Dimensions" },
        { new HashingEmbeddingOptions { Dimensions = (1 << 20) + 1 }, "Dimensions" },
        { new HashingEmbeddingOptions { MinCharNGram = -1 }, "MinCharNGram" },
        { new HashingEmbeddingOptions { MinCharNGram = 4, MaxCharNGram = 3 }, "MinCharNGram" },
        { new HashingEmbeddingOptions { MaxCharNGram = 17 }, "MaxCharNGram" },
        { new HashingEmbeddingOptions { MaxWordNGram = 0 }, "MaxWordNGram" },
        { new HashingEmbeddingOptions { MaxWordNGram = 5 }, "MaxWordNGram" },
        { new HashingEmbeddingOptions { CharNGramWeight = -0.5f }, "CharNGramWeight" },
        { new HashingEmbeddingOptions { CharNGramWeight = float.NaN }, "CharNGramWeight" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_fail_naming_the_setting(HashingEmbeddingOptions options, string parameter)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new HashingEmbeddingGenerator(options));
        Assert.Equal(parameter, ex.ParamName);
        Assert.Contains(parameter, ex.Message, StringComparison.Ordinal);
    }
}
