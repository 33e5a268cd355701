using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests;

/// <summary>Reading, writing and synthesising llama2.c checkpoints and tokenizers.</summary>
public sealed class CheckpointTests
{
    [Fact]
    public void Stories260KHeaderMatchesItsReadme()
    {
        var checkpoint = TestModels.Checkpoint(SharedFixtures.Stories260KCheckpoint);

        Assert.Equal(new LlamaConfig(64, 172, 5, 8, 4, 512, 512, SharedClassifier: true), checkpoint.Config);
        Assert.Equal(8, checkpoint.Config.HeadSize);
        Assert.Same(checkpoint.Weights.TokenEmbedding, checkpoint.Weights.Classifier);
        Assert.Equal(new FileInfo(SharedFixtures.Stories260KCheckpoint).Length, Llama2cCheckpoint.ExpectedFileBytes(checkpoint.Config));
    }

    [Fact]
    public void Stories260KTokenizerHasSpecialAndBytePieces()
    {
        var tokenizer = Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, 512);

        // llama2.c's export writes BOS/EOS wrapped in newlines; the converter names them "<s>"/"</s>" in tokenizer.model.
        Assert.Equal(["<unk>", "\n<s>\n", "\n</s>\n", "<0x00>"], tokenizer.Pieces.Take(4));
        Assert.Equal("<0xFF>", tokenizer.Pieces[258]);
        Assert.True(tokenizer.MaxTokenLength >= tokenizer.Pieces.Max(p => System.Text.Encoding.UTF8.GetByteCount(p)));
    }

    [Fact]
    public void SynthesizerIsDeterministicAndWritesUntiedHeaders()
    {
        using var temp = new TempFolder();
        var config = TestCases.MhaUntiedOddHidden;
        CheckpointSynthesizer.Write(temp.File("a.bin"), config, seed: 5);
        CheckpointSynthesizer.Write(temp.File("b.bin"), config, seed: 5);
        CheckpointSynthesizer.Write(temp.File("c.bin"), config, seed: 6);

        byte[] a = File.ReadAllBytes(temp.File("a.bin"));
        Assert.Equal(a, File.ReadAllBytes(temp.File("b.bin")));
        Assert.NotEqual(a, File.ReadAllBytes(temp.File("c.bin")));
        Assert.Equal(-config.VocabSize, BitConverter.ToInt32(a, 20)); // negative vocab: untied classifier
        var loaded = Llama2cCheckpoint.Load(temp.File("a.bin"));
        Assert.Equal(config, loaded.Config);
        Assert.NotSame(loaded.Weights.TokenEmbedding, loaded.Weights.Classifier);
    }

    [Fact]
    public void SynthesizedWeightsHaveTheDocumentedScales()
    {
        var weights = TestModels.Checkpoint(TestModels.SyntheticCheckpoint(TestCases.GqaTied, TestCases.Seed).Checkpoint).Weights;

        // Sample statistics of ~4,000-20,000 draws: 10 % bands are many standard errors wide.
        static (double Mean, double Std) Stats(float[] x) => (x.Average(v => (double)v), Math.Sqrt(x.Average(v => (double)v * v) - Math.Pow(x.Average(v => (double)v), 2)));
        var embedding = Stats(weights.TokenEmbedding);
        var wq = Stats(weights.Wq);
        var norms = Stats(weights.RmsAttention);
        Assert.InRange(embedding.Std, 0.9, 1.1);
        Assert.InRange(wq.Std * Math.Sqrt(TestCases.GqaTied.Dim), 0.9, 1.1);
        Assert.InRange(norms.Mean, 0.95, 1.05);
    }

    [Fact]
    public void SyntheticTokenizerRoundTripsThroughTheFileFormat()
    {
        using var temp = new TempFolder();
        CheckpointSynthesizer.WriteTokenizer(temp.File("tok.bin"), 400);

        var loaded = Llama2cTokenizerFile.Load(temp.File("tok.bin"), 400);
        var created = CheckpointSynthesizer.CreateTokenizer(400);

        Assert.Equal(created.Pieces, loaded.Pieces);
        Assert.Equal(created.Scores, loaded.Scores);
        Assert.Equal(400, loaded.Pieces.Distinct().Count());
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckpointSynthesizer.CreateTokenizer(258));
    }

    [Fact]
    public void ReferenceRejectsOutOfRangeArguments()
    {
        var reference = TestModels.Reference(SharedFixtures.Stories260KCheckpoint);

        Assert.Throws<ArgumentOutOfRangeException>(() => reference.Forward(512, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => reference.Forward(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => reference.Forward(1, 512));
    }
}

/// <summary>Shape validation names the offending hyper-parameter.</summary>
public sealed class LlamaConfigTests
{
    [Theory]
    [InlineData(0, 8, 4, "Dim")]
    [InlineData(64, 8, 3, "KvHeads")] // 3 kv heads do not divide 8 query heads
    [InlineData(60, 8, 4, "Heads")]   // 8 heads do not divide 60
    [InlineData(40, 8, 4, "Heads")]   // head size 5 is odd: RoPE rotates pairs
    public void InvalidShapesNameTheParameter(int dim, int heads, int kvHeads, string parameter)
    {
        var config = new LlamaConfig(dim, 32, 1, heads, kvHeads, 300, 16);

        var error = Assert.Throws<ArgumentOutOfRangeException>(config.Validate);

        Assert.Equal(parameter, error.ParamName);
    }

    [Fact]
    public void ParameterCountCountsATiedClassifierOnce()
    {
        var tied = new LlamaConfig(64, 172, 5, 8, 4, 512, 512);

        Assert.Equal(260_032, tied.ParameterCount); // stories260K, as its name says
        Assert.Equal(260_032 + (512 * 64), (tied with { SharedClassifier = false }).ParameterCount);
    }
}
