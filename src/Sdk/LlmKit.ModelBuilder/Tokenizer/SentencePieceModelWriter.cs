using Google.Protobuf;
using LlmKit.ModelBuilder.SentencePiece.Protos;
using Piece = LlmKit.ModelBuilder.SentencePiece.Protos.ModelProto.Types.SentencePiece;

namespace LlmKit.ModelBuilder;

/// <summary>
/// Turns a llama2.c tokenizer into a SentencePiece <c>tokenizer.model</c> of BPE type: the same pieces and
/// scores, spaces written as U+2581, &lt;0xXX&gt; pieces typed BYTE (byte fallback on), unk/bos/eos typed
/// UNKNOWN/CONTROL, a dummy prefix, and identity normalisation (no whitespace folding), so that SentencePiece
/// encodes exactly like llama2.c's <c>encode()</c>.
/// </summary>
internal static class SentencePieceModelWriter
{
    public const char SpaceSymbol = '\u2581';

    private static readonly string[] SpecialPieces = ["<unk>", "<s>", "</s>"];

    public static ModelProto Build(Llama2cTokenizerFile tokenizer)
    {
        var model = new ModelProto
        {
            TrainerSpec = new TrainerSpec
            {
                ModelType = TrainerSpec.Types.ModelType.Bpe,
                VocabSize = tokenizer.VocabSize,
                ByteFallback = true,
                UnkId = Llama2cTokenizerFile.UnknownId,
                BosId = Llama2cTokenizerFile.BosId,
                EosId = Llama2cTokenizerFile.EosId,
                PadId = -1,
            },
            NormalizerSpec = new NormalizerSpec
            {
                Name = "identity",
                AddDummyPrefix = true,
                RemoveExtraWhitespaces = false,
                EscapeWhitespaces = true,
            },
        };

        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            var type = id switch
            {
                Llama2cTokenizerFile.UnknownId => Piece.Types.Type.Unknown,
                Llama2cTokenizerFile.BosId or Llama2cTokenizerFile.EosId => Piece.Types.Type.Control,
                _ when Llama2cTokenizerFile.IsByteId(id) => Piece.Types.Type.Byte,
                _ => Piece.Types.Type.Normal,
            };
            string text = type switch
            {
                Piece.Types.Type.Normal => tokenizer.Pieces[id].Replace(' ', SpaceSymbol),
                Piece.Types.Type.Byte => tokenizer.Pieces[id],
                _ => SpecialPieces[id], // llama2.c's export wraps these in newlines ("\n<s>\n"); SentencePiece names them plainly
            };
            model.Pieces.Add(new Piece { Piece = text, Score = tokenizer.Scores[id], Type = type });
        }

        return model;
    }

    public static void Write(string path, Llama2cTokenizerFile tokenizer)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        Build(tokenizer).WriteTo(stream);
    }
}
