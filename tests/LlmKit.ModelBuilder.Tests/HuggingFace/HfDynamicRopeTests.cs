using LlmKit.Generation;
using LlmKit.ModelBuilder.HuggingFace;
using LlmKit.Models;
using LlmKit.Testing;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>
/// A Hugging Face Llama checkpoint with <c>rope_scaling: dynamic</c> (trained at 32 positions, served at 100): the
/// converted folder's cos/sin caches are inputs, and LlmKit's runtime, filling them per run, matches the half-rotation
/// reference forward with each run's frequencies, for a prompt past the original length and decoding beyond it.
/// </summary>
public sealed class HfDynamicRopeTests
{
    // As in HfLogitsMatchReferenceTests: float32 on both sides, same cos/sin values, summation order only.
    private const float Tolerance = 2e-4f;
    private const int Context = 100;

    private static readonly HfSyntheticShape Shape = new("LlamaForCausalLM", 64, 128, 2, 4, 2, 512, 32)
    {
        RopeScalingJson = """{"rope_type": "dynamic", "factor": 2.0}""",
    };

    [Fact]
    public void Prompt_past_the_original_length_and_decoding_match_the_reference()
    {
        using var temp = new TempFolder();
        string checkpoint = Path.Combine(temp.Path, "checkpoint"), folder = Path.Combine(temp.Path, "model");
        HfCheckpointSynthesizer.Write(checkpoint, Shape, HfCases.Seed);
        HfCheckpointSynthesizer.WriteTokenizer(checkpoint, Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, Shape.VocabSize), Shape.MaxPositions);
        HfConverter.Convert(new HfConversionRequest(checkpoint, folder) { MaxLength = Context });

        var spec = HfConfigReader.Read(checkpoint);
        Assert.Equal(RopeScalingType.Dynamic, spec.RopeScaling!.Type);
        var reference = new HfReference(new HfWeights(SafetensorsCheckpoint.Open(checkpoint), spec), Context);
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { IntraOpThreads = 1 });
        Assert.True(model.UsesDynamicRope);
        using var state = new DecoderState(model);

        // One run of 48 tokens (past the original 32: all use freq(48)), then single-token runs up to position 99.
        int[] tokens = HfCases.Tokens(Context, seed: 48);
        const int prompt = 48;
        float[] logits = state.Append(tokens.AsSpan(0, prompt), CancellationToken.None).ToArray();
        for (int pos = 0; pos < prompt; pos++)
        {
            float diff = Numerics.MaxAbsDiff(logits.AsSpan(pos * Shape.VocabSize, Shape.VocabSize), reference.Forward(tokens[pos], pos, sequenceLength: prompt));
            Assert.True(diff <= Tolerance, $"prompt position {pos}: max |diff| {diff}");
        }

        for (int pos = prompt; pos < Context; pos++)
        {
            var step = state.Append(tokens.AsSpan(pos, 1), CancellationToken.None);
            float diff = Numerics.MaxAbsDiff(step, reference.Forward(tokens[pos], pos));
            Assert.True(diff <= Tolerance, $"decode position {pos}: max |diff| {diff}");
        }
    }

    [Fact]
    public void Fp16_with_dynamic_scaling_is_refused_naming_both()
    {
        using var temp = new TempFolder();
        string checkpoint = Path.Combine(temp.Path, "checkpoint");
        HfCheckpointSynthesizer.Write(checkpoint, Shape, HfCases.Seed);
        HfCheckpointSynthesizer.WriteTokenizer(checkpoint, Llama2cTokenizerFile.Load(SharedFixtures.Stories260KTokenizer, Shape.VocabSize), Shape.MaxPositions);
        var e = Assert.Throws<NotSupportedException>(() => HfConverter.Convert(new HfConversionRequest(checkpoint, Path.Combine(temp.Path, "model")) { Precision = WeightPrecision.Fp16 }));
        Assert.Contains("dynamic", e.Message);
        Assert.Contains("fp16", e.Message);
    }
}
