using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>Bad inputs fail with messages that say what and where, and never leave anything in the output folder.</summary>
public sealed class ConversionFailureTests
{
    [Fact]
    public void TruncatedCheckpointReportsExpectedAndActualBytes()
    {
        using var temp = new TempFolder();
        string truncated = temp.File("truncated.bin");
        byte[] full = File.ReadAllBytes(SharedFixtures.Stories260KCheckpoint);
        File.WriteAllBytes(truncated, full[..^1000]);
        string output = temp.File("out");

        var error = Assert.Throws<InvalidDataException>(() => Llama2cConverter.Convert(new(truncated, SharedFixtures.Stories260KTokenizer, output)));

        Assert.Contains("truncated", error.Message, StringComparison.Ordinal);
        Assert.Contains($"expected {full.Length} bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{full.Length - 1000} bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(["truncated.bin"], temp.Entries());
    }

    [Fact]
    public void HeaderOnlyFragmentIsReportedAsTruncated()
    {
        using var temp = new TempFolder();
        string fragment = temp.File("fragment.bin");
        File.WriteAllBytes(fragment, File.ReadAllBytes(SharedFixtures.Stories260KCheckpoint)[..10]);

        var error = Assert.Throws<InvalidDataException>(() => Llama2cCheckpoint.Load(fragment));

        Assert.Contains("expected at least 28 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("found 10 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidHeaderNamesTheBadField()
    {
        using var temp = new TempFolder();
        string path = temp.File("bad-heads.bin");
        byte[] bytes = File.ReadAllBytes(SharedFixtures.Stories260KCheckpoint);
        BitConverter.GetBytes(3).CopyTo(bytes, 16); // n_kv_heads = 3 does not divide n_heads = 8

        var error = Assert.Throws<InvalidDataException>(() => Llama2cCheckpoint.Load(Write(path, bytes)));

        Assert.Contains("KvHeads", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(300)] // the tokenizer holds more pieces than the model's vocabulary
    [InlineData(600)] // the tokenizer holds fewer pieces than the model's vocabulary
    public void TokenizerSizeMismatchIsReported(int vocab)
    {
        using var temp = new TempFolder();
        string checkpoint = temp.File("model.bin");
        CheckpointSynthesizer.Write(checkpoint, new LlamaConfig(16, 32, 1, 2, 2, vocab, 8), seed: 1);
        string output = temp.File("out");

        var error = Assert.Throws<InvalidDataException>(() => Llama2cConverter.Convert(new(checkpoint, SharedFixtures.Stories260KTokenizer, output)));

        Assert.Contains("tok512.bin", error.Message, StringComparison.Ordinal);
        Assert.Contains($"vocab_size {vocab}", error.Message, StringComparison.Ordinal);
        Assert.Equal(["model.bin"], temp.Entries());
    }

    [Fact]
    public void MissingCheckpointIsNamed()
    {
        using var temp = new TempFolder();
        string missing = temp.File("nope.bin");

        var error = Assert.Throws<FileNotFoundException>(() => Llama2cConverter.Convert(new(missing, SharedFixtures.Stories260KTokenizer, temp.File("out"))));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void MissingTokenizerIsNamed()
    {
        using var temp = new TempFolder();
        string missing = temp.File("tok.bin");

        var error = Assert.Throws<FileNotFoundException>(() => Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, missing, temp.File("out"))));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void NonEmptyOutputWithoutForceIsRefusedAndUntouched()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");

        var error = Assert.Throws<IOException>(() => Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, output)));

        Assert.Contains("not empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("--force", error.Message, StringComparison.Ordinal);
        Assert.Equal(["out", Path.Combine("out", "keep.txt")], temp.Entries());
    }

    [Fact]
    public void CancelledConversionLeavesNothingBehind()
    {
        using var temp = new TempFolder();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() =>
            Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, temp.File("out")), cts.Token));

        Assert.Empty(temp.Entries());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void NonPositiveMaxLengthIsRejected(int maxLength)
    {
        using var temp = new TempFolder();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, temp.File("out"), MaxLength: maxLength)));

        Assert.Contains("MaxLength", error.Message, StringComparison.Ordinal);
        Assert.Empty(temp.Entries());
    }

    [Fact]
    public void Fp16IsRefusedForLlama2cCheckpoints()
    {
        // WeightPrecision.Fp16 exists for Hugging Face conversions; the llama2.c emitters have no float16 graph.
        using var temp = new TempFolder();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, temp.File("out")) { Precision = WeightPrecision.Fp16 }));

        Assert.Contains("Precision", error.Message, StringComparison.Ordinal);
        Assert.Empty(temp.Entries());
    }

    private static string Write(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

/// <summary>Concurrent conversions into one folder: exactly one wins, the folder is complete, nothing is left over.</summary>
public sealed class ConcurrentConversionTests
{
    [Fact]
    public async Task RacingConversionsIntoOneFolderPublishExactlyOneCompleteFolder()
    {
        using var temp = new TempFolder();
        string output = temp.File("out");
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.Wait();
            try
            {
                Llama2cConverter.Convert(new(SharedFixtures.Stories260KCheckpoint, SharedFixtures.Stories260KTokenizer, output));
                return true;
            }
            catch (IOException)
            {
                return false; // lost the race: the destination was already published
            }
        })).ToArray();
        start.Set();
        bool[] won = await Task.WhenAll(attempts);

        Assert.Single(won, w => w);
        Assert.Equal(
            ["out", "out/.llmkit-output", "out/genai_config.json", "out/model.onnx", "out/special_tokens_map.json", "out/tokenizer.json", "out/tokenizer.model", "out/tokenizer_config.json"],
            temp.Entries().Select(e => e.Replace('\\', '/')));
        using var decoder = new OrtDecoder(output);
        Assert.Equal(512 * 2, decoder.Prefill([1, 400]).Logits.Length);
    }
}
